"""Reading a run's checkpoint logs no warning: orbax's "Given directory is read only" and "setting
save_interval_steps=0" lines (on every eval.py, upscale.py and stage-2 start) were wrong about a
writable folder."""
import logging

from absl import logging as absl_logging

from liifusion_jax.checkpoints.run import load_params


def test_a_read_only_restore_logs_no_warning(stage2_ckpt, caplog):
  verbosity = absl_logging.get_verbosity()
  absl_logging.set_verbosity(absl_logging.INFO)  # as train.py leaves it (the other commands quiet absl)
  try:
    with caplog.at_level(logging.INFO):
      params, meta = load_params(stage2_ckpt)
  finally:
    absl_logging.set_verbosity(verbosity)
  assert meta["stage"] == "stage2" and params
  warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
  assert warnings == []
  assert any(r.name == "absl" for r in caplog.records), "absl's records no longer reach the filtered logger"
