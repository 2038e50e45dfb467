import argparse

import pytest

from liifusion_jax.cli import flags
from liifusion_jax.cli.flags import parse_scales, scale_name


def test_parse_scales():
  assert parse_scales("2,3, 4,12,30") == [2.0, 3.0, 4.0, 12.0, 30.0]
  assert parse_scales("5.3,10.7") == [5.3, 10.7]
  assert [scale_name(s) for s in parse_scales("2,5.3")] == ["x2", "x5.3"]
  for bad in ("0.5", "1,-2", "x", "", "inf", "nan"):
    with pytest.raises(argparse.ArgumentTypeError):
      parse_scales(bad)


@pytest.mark.parametrize("value, words", [("0", "must be >= 1, got 0"), ("abc", "expected a whole number")])
def test_chunk_must_be_a_positive_whole_number(value, words, capsys):
  parser = flags.ArgumentParser(prog="x")
  flags.add_model_flags(parser, 30000)
  with pytest.raises(SystemExit) as exit_info:
    parser.parse_args(["--chunk", value])
  assert exit_info.value.code == 2 and words in capsys.readouterr().err
  assert parser.parse_args(["--chunk", "7", "--precision", "bf16"]).chunk == 7


def test_self_ensemble_is_off_unless_asked():
  parser = flags.ArgumentParser(prog="x")
  flags.add_model_flags(parser, 30000)
  assert parser.parse_args([]).self_ensemble == 0 and parser.parse_args(["--self-ensemble"]).self_ensemble == 8
  assert parser.parse_args(["--self-ensemble", "4"]).self_ensemble == 4


def test_an_ensemble_size_is_2_4_or_8(capsys):
  parser = flags.ArgumentParser(prog="x")
  flags.add_model_flags(parser, 30000)
  with pytest.raises(SystemExit):
    parser.parse_args(["--self-ensemble", "3"])
  assert "expected 2, 4 or 8 transforms, got '3'" in capsys.readouterr().err
