import argparse

import pytest

from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.cli import common
from liifusion_jax.cli.common import UsageError, parse_scales, scale_name, user_errors
from liifusion_jax.config import ConfigError
from liifusion_jax.data.images import ImageError
from liifusion_jax.train.errors import TrainingError


def test_parse_scales():
  assert parse_scales("2,3, 4,12,30") == [2.0, 3.0, 4.0, 12.0, 30.0]
  assert parse_scales("5.3,10.7") == [5.3, 10.7]
  assert [scale_name(s) for s in parse_scales("2,5.3")] == ["x2", "x5.3"]
  for bad in ("0.5", "1,-2", "x", "", "inf", "nan"):
    with pytest.raises(argparse.ArgumentTypeError):
      parse_scales(bad)


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


@pytest.mark.parametrize("value, words", [("0", "must be >= 1, got 0"), ("abc", "expected a whole number")])
def test_chunk_must_be_a_positive_whole_number(value, words, capsys):
  parser = common.ArgumentParser(prog="x")
  common.add_model_flags(parser, 30000)
  with pytest.raises(SystemExit) as exit_info:
    parser.parse_args(["--chunk", value])
  assert exit_info.value.code == 2 and words in capsys.readouterr().err
  assert parser.parse_args(["--chunk", "7", "--precision", "bf16"]).chunk == 7
