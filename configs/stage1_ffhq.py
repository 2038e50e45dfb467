"""Stage 1 on faces (reference configs/train-two-stage/train_stage1_ffhq.yaml): scale 1-8, patch 16, batch 32."""
from . import stage1


def get_config(arg=None):
  c = stage1.get_config(arg)
  c.data.repeat = 1
  c.data.patch = 16
  c.data.scale_max = 8.0
  c.data.sample_q = 256
  c.batch_size = 32
  return c
