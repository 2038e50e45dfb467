import argparse

import jax
import jax.numpy as jnp
import pytest

from liifusion_jax.cli_common import ShapeBudget, parse_scales, scale_name


def test_parse_scales():
  assert parse_scales("2,3, 4,12,30") == [2.0, 3.0, 4.0, 12.0, 30.0]
  assert parse_scales("5.3,10.7") == [5.3, 10.7]
  assert [scale_name(s) for s in parse_scales("2,5.3")] == ["x2", "x5.3"]
  for bad in ("0.5", "1,-2", "x", "", "inf", "nan"):
    with pytest.raises(argparse.ArgumentTypeError):
      parse_scales(bad)


def test_shape_budget_drops_compiled_programs_past_its_limit():
  f = jax.jit(lambda x: x + 1)
  budget = ShapeBudget(limit=2)
  for n in (1, 2, 1, 2):  # shapes seen before cost nothing
    budget.admit((n,))
    f(jnp.zeros(n))
  assert f._cache_size() == 2
  budget.admit((3,))
  assert f._cache_size() == 0
  f(jnp.zeros(3))
  assert f._cache_size() == 1 and budget.shapes == {(3,)}
