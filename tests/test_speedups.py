"""The decoder's speed-up computes what it replaces: the multiply-add first layer equals the matmul."""
import flax.linen as nn
import jax
import numpy as np
import pytest
from jax import lax

from liifusion_jax.models.liif import multiply_add_dot


def test_multiply_add_dot_is_the_matmul():
  x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 5, 4))
  kernel = jax.random.normal(jax.random.PRNGKey(1), (4, 7))
  dims = (((3,), (0,)), ((), ()))
  np.testing.assert_allclose(multiply_add_dot(x, kernel, dims), lax.dot_general(x, kernel, dims),
                             rtol=1e-6, atol=1e-6)
  layer = nn.Dense(7, use_bias=False, dot_general=multiply_add_dot)
  params = {"params": {"kernel": kernel}}
  np.testing.assert_allclose(layer.apply(params, x), x @ kernel, rtol=1e-6, atol=1e-6)
  with pytest.raises(ValueError, match="contracts"):
    multiply_add_dot(x, kernel, (((2,), (0,)), ((), ())))
