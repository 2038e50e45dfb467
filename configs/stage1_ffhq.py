"""Stage 1 on faces (reference configs/train-two-stage/train_stage1_ffhq.yaml): scale 1-8, patch 16, batch 32."""
import importlib.util
import pathlib

_spec = importlib.util.spec_from_file_location("stage1", pathlib.Path(__file__).with_name("stage1.py"))
_stage1 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_stage1)


def get_config(arg=None):
  c = _stage1.get_config(arg)
  c.data.repeat = 1
  c.data.patch = 16
  c.data.scale_max = 8.0
  c.data.sample_q = 256
  c.batch_size = 32
  return c
