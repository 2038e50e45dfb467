"""Stage 2 on faces (reference train_stage2_ffhq.yaml): 1000 epochs, batch 32, patch 16, scale 1-8."""
from . import stage2


def get_config(arg=None):
  c = stage2.get_config(arg)
  c.data.repeat = 1
  c.data.patch = 16
  c.data.scale_max = 8.0
  c.batch_size = 32
  if arg != "quick":
    c.epochs = 1000
  return c
