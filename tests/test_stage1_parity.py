"""Stage-1 networks against the reference PyTorch outputs (golden stage1.npz), 1e-4 absolute."""
import functools

import jax
import numpy as np
import pytest

from liifusion_jax.convert.stage1 import stage1_params_from_state_dict
from liifusion_jax.models.stage1 import LIIFusionStage1

TOL = 1e-4


def _nhwc(x):
  return np.transpose(x, (0, 2, 3, 1))


@functools.partial(jax.jit, static_argnums=0)
def _run(model, params, lr, hr, coord, cell):
  """Every intermediate the golden file holds, from one compiled program per case shape."""
  def body(m):
    feat = m.features(lr)
    z = m.prior(m.prior_input(lr, hr))
    injected = m.inject(feat, z)
    return feat, z, injected, m.decode(injected, coord, cell)

  return model.apply({"params": params}, method=body)


@pytest.fixture(scope="module")
def converted(golden):
  g = golden("stage1")
  sd = {k[3:]: v for k, v in g.items() if k.startswith("sd/")}
  return g, stage1_params_from_state_dict(sd)


@pytest.mark.parametrize("case", ["c0", "c1"])
def test_stage1_matches_reference(converted, case):
  g, params = converted
  lr, hr = _nhwc(g[f"{case}/inp"]), _nhwc(g[f"{case}/ref"])
  coord, cell = g[f"{case}/coord"], g[f"{case}/cell"]
  feat, z, injected, pred = _run(LIIFusionStage1(), params, lr, hr, coord, cell)
  np.testing.assert_allclose(feat, _nhwc(g[f"{case}/enc_feat"]), rtol=0, atol=TOL)
  np.testing.assert_allclose(z, g[f"{case}/prior"], rtol=0, atol=TOL)
  np.testing.assert_allclose(injected, _nhwc(g[f"{case}/injected_feat"]), rtol=0, atol=TOL)
  np.testing.assert_allclose(pred, g[f"{case}/pred"], rtol=0, atol=TOL)


def test_call_equals_composition(converted):
  """__call__ = decode(encode(lr, prior_input(lr, hr))), checked on the golden prediction."""
  g, params = converted
  lr, hr = _nhwc(g["c1/inp"]), _nhwc(g["c1/ref"])
  pred = jax.jit(LIIFusionStage1().apply)({"params": params}, lr, hr, g["c1/coord"], g["c1/cell"])
  np.testing.assert_allclose(pred, g["c1/pred"], rtol=0, atol=TOL)
