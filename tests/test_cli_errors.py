import pytest

from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.cli.errors import UsageError, user_errors
from liifusion_jax.config import ConfigError
from liifusion_jax.data.images import ImageError
from liifusion_jax.train.errors import TrainingError


@pytest.mark.parametrize("kind", [ConfigError, CheckpointError, ImageError, TrainingError, UsageError, OSError])
def test_user_errors_end_in_one_line(kind, capsys):
  with pytest.raises(SystemExit) as exc, user_errors():
    raise kind("bad\n  key")
  assert exc.value.code == 1 and capsys.readouterr().err == "error: bad key\n"


def test_a_bare_memory_error_ctrl_c_and_bugs(capsys):
  with pytest.raises(SystemExit) as exc, user_errors():
    raise MemoryError
  assert exc.value.code == 1 and capsys.readouterr().err == "error: MemoryError\n"
  with pytest.raises(SystemExit) as exc, user_errors(interrupted="stopped"):
    raise KeyboardInterrupt
  assert exc.value.code == 130 and capsys.readouterr().err == "stopped\n"
  with pytest.raises(RuntimeError), user_errors():
    raise RuntimeError("a bug")
