"""Stage-2 networks against the reference PyTorch outputs (golden stage2.npz), 1e-4 absolute."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from liifusion_jax.convert.stage2 import stage2_params_from_state_dict
from liifusion_jax.models.diffusion import Schedule, diffusion_loss, make_schedule
from liifusion_jax.models.stage1 import LIIFusionStage1, make_prior_input
from liifusion_jax.models.stage2 import LIIFusionStage2

TOL = 1e-4


def _nhwc(x):
  return np.transpose(x, (0, 2, 3, 1))


@pytest.fixture(scope="module")
def converted(golden):
  g = golden("stage2")
  sd = {k[3:]: v for k, v in g.items() if k.startswith("sd/")}
  return g, stage2_params_from_state_dict(sd)


def _case(g, case):
  return (_nhwc(g[f"{case}/inp"]), _nhwc(g[f"{case}/ref"]), g[f"{case}/coord"], g[f"{case}/cell"],
          g[f"{case}/noise"])


@functools.partial(jax.jit, static_argnums=0)
def _run(model, params, lr, hr, coord, cell, noise):
  """Every intermediate the golden file holds (lr_up is stage 1's test), one program per shape."""
  def body(m):
    cond = m.condition(lr)
    z0 = m.hr_prior(m.prior_input(lr, hr))
    z0_hat = m.sample_prior(lr, noise)
    injected = m.encode(lr, noise)
    return cond, z0, z0_hat, injected, m.decode(injected, coord, cell)

  return model.apply({"params": params}, method=body)


def test_schedule_buffers(golden):
  """Within 1 ulp of the reference's float32 buffers (float64 then cast is 2e-5 off, see make_schedule)."""
  g = golden("stage2")
  schedule = make_schedule()
  for name in Schedule._fields:
    ours, ref = getattr(schedule, name), g[f"schedule/{name}"]
    assert ours.dtype == np.float32
    np.testing.assert_array_max_ulp(ours, ref, maxulp=1)


@pytest.mark.parametrize("case", ["c0", "c1"])
def test_stage2_matches_reference(converted, case):
  g, params = converted
  cond, z0, z0_hat, injected, pred = _run(LIIFusionStage2(), params, *_case(g, case))
  np.testing.assert_allclose(cond, g[f"{case}/cond"], rtol=0, atol=TOL)
  np.testing.assert_allclose(z0, g[f"{case}/hr_prior"], rtol=0, atol=TOL)
  np.testing.assert_allclose(z0_hat, g[f"{case}/sampled_prior"], rtol=0, atol=TOL)
  np.testing.assert_allclose(injected, _nhwc(g[f"{case}/injected_feat"]), rtol=0, atol=TOL)
  np.testing.assert_allclose(pred, g[f"{case}/pred"], rtol=0, atol=TOL)


def test_call_and_train_forward_match_reference(converted):
  """Inference needs only the LR; training injects the sampled prior and returns the HR prior too."""
  g, params = converted
  lr, hr, coord, cell, noise = _case(g, "c1")
  model = LIIFusionStage2()
  pred = jax.jit(model.apply)({"params": params}, lr, coord, cell, noise)
  np.testing.assert_allclose(pred, g["c1/pred"], rtol=0, atol=TOL)

  def loss(p):
    pred, z0_hat, z0 = model.apply({"params": p}, lr, make_prior_input(lr, hr),
                                   coord, cell, noise, method="train_forward")
    return diffusion_loss(z0_hat, z0), (pred, z0_hat, z0)

  grads, (pred, z0_hat, z0) = jax.jit(jax.grad(loss, has_aux=True))(params)
  np.testing.assert_allclose(pred, g["c1/pred"], rtol=0, atol=TOL)
  np.testing.assert_allclose(z0_hat, g["c1/sampled_prior"], rtol=0, atol=TOL)
  np.testing.assert_allclose(z0, g["c1/hr_prior"], rtol=0, atol=TOL)
  leaves = lambda name: jax.tree_util.tree_leaves(grads[name])
  assert all(not np.any(x) for x in leaves("prior_encoder")), "z0 must be a fixed target"
  assert any(np.any(x) for x in leaves("condition_encoder"))
  assert any(np.any(x) for x in leaves("prior_generator"))


def test_stage1_params_drop_in():
  """Stage 2 holds the stage-1 submodules under the same names and shapes."""
  lr, hr = jnp.zeros((1, 8, 8, 3)), jnp.zeros((1, 16, 16, 3))
  coord, cell, noise = jnp.zeros((1, 4, 2)), jnp.full((1, 4, 2), 0.125), jnp.zeros((1, 256))
  key = jax.random.PRNGKey(0)
  shapes = lambda f: jax.tree_util.tree_map(lambda x: x.shape, jax.eval_shape(f)["params"])
  s1 = shapes(lambda: LIIFusionStage1().init(key, lr, hr, coord, cell))
  s2 = shapes(lambda: LIIFusionStage2().init(
      key, lr, make_prior_input(lr, hr), coord, cell, noise,
      method="train_forward"))
  assert set(s2) == set(s1) | {"condition_encoder", "prior_generator"}
  assert {k: s2[k] for k in s1} == s1


def test_converter_rejects_foreign_checkpoints(golden):
  sd = {k[3:]: v for k, v in golden("stage2").items() if k.startswith("sd/")}
  with pytest.raises(KeyError):
    stage2_params_from_state_dict({**sd, "prior_generator.model.resmlp.7.resmlp.0.weight": 0})
  with pytest.raises(ValueError):
    stage2_params_from_state_dict({**sd, "prior_generator.betas": sd["prior_generator.betas"] * 2})
