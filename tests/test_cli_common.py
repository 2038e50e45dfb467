import argparse

import pytest

from liifusion_jax.cli.common import parse_scales, scale_name


def test_parse_scales():
  assert parse_scales("2,3, 4,12,30") == [2.0, 3.0, 4.0, 12.0, 30.0]
  assert parse_scales("5.3,10.7") == [5.3, 10.7]
  assert [scale_name(s) for s in parse_scales("2,5.3")] == ["x2", "x5.3"]
  for bad in ("0.5", "1,-2", "x", "", "inf", "nan"):
    with pytest.raises(argparse.ArgumentTypeError):
      parse_scales(bad)
