"""Reading a run's checkpoint logs no warning: orbax's "Given directory is read only" and "setting
save_interval_steps=0" lines (on every eval.py, upscale.py and stage-2 start) were wrong about a
writable folder."""
import logging

from liifusion_jax.checkpoints.run import load_params


def test_a_read_only_restore_logs_no_warning(stage2_ckpt, caplog):
  with caplog.at_level(logging.INFO):
    params, meta = load_params(stage2_ckpt)
  assert meta["stage"] == "stage2" and params
  warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
  assert warnings == []
  infos = [r for r in caplog.records if r.name == "absl"]
  assert infos, "absl's records no longer reach the logger the filter is on"
