"""UNetDiscriminatorSN: golden parity (eval mode) and torch-faithful spectral norm."""
import jax
import jax.numpy as jnp
import numpy as np

from liifusion_jax.convert.discriminator import discriminator_params_from_state_dict
from liifusion_jax.models.discriminator import SPECTRAL, SNConv, UNetDiscriminatorSN


def _state_dict(g):
  return {k[len("sd/"):]: v for k, v in g.items() if k.startswith("sd/")}


def test_golden_eval_mode(golden):
  g = golden("discriminator")
  variables = discriminator_params_from_state_dict(_state_dict(g))
  x = jnp.transpose(g["x"], (0, 2, 3, 1))
  y = UNetDiscriminatorSN().apply(variables, x)
  np.testing.assert_allclose(np.transpose(np.asarray(y), (0, 3, 1, 2)), g["y"], atol=1e-4, rtol=0)


def _sn_conv(cin=6, cout=5, k=3):
  module = SNConv(cout, k)
  x = jnp.zeros((1, 8, 8, cin))
  variables = module.init(jax.random.PRNGKey(0), x, update_stats=False)
  return module, x, variables


def _sigma_matrix(variables):
  kernel = variables["params"]["kernel"]
  return np.asarray(jnp.transpose(kernel, (3, 2, 0, 1)).reshape(kernel.shape[-1], -1))


def test_power_iteration_converges_to_top_singular_value():
  module, x, variables = _sn_conv()
  w_mat = _sigma_matrix(variables)
  step = jax.jit(lambda v: module.apply(v, x, update_stats=True, mutable=[SPECTRAL])[1])
  spectral = variables[SPECTRAL]
  for _ in range(200):
    spectral = step({"params": variables["params"], SPECTRAL: spectral})[SPECTRAL]
  u, v = np.asarray(spectral["u"]), np.asarray(spectral["v"])
  top = np.linalg.svd(w_mat, compute_uv=False)[0]
  np.testing.assert_allclose(u @ w_mat @ v, top, rtol=1e-4)


def test_normalised_kernel_has_unit_spectral_norm_after_convergence():
  """The conv output equals conv(kernel / sigma_max): checked on a delta image, which reads out the kernel."""
  module, _, variables = _sn_conv(cin=2, cout=3, k=3)
  x = jnp.zeros((1, 3, 3, 2)).at[0, 1, 1, 0].set(1.0)
  spectral = variables[SPECTRAL]
  for _ in range(200):
    _, upd = module.apply({"params": variables["params"], SPECTRAL: spectral}, x,
                          update_stats=True, mutable=[SPECTRAL])
    spectral = upd[SPECTRAL]
  y = module.apply({"params": variables["params"], SPECTRAL: spectral}, x, update_stats=False)
  kernel = np.asarray(variables["params"]["kernel"])
  top = np.linalg.svd(_sigma_matrix(variables), compute_uv=False)[0]
  # Output at (i, j) of a delta at the centre with input channel 0 is kernel[2 - i, 2 - j, 0, :].
  expected = kernel[::-1, ::-1, 0, :] / top
  np.testing.assert_allclose(np.asarray(y[0]), expected, atol=1e-6)


def test_eval_mode_leaves_u_v_unchanged_and_training_mode_updates_them():
  module, x, variables = _sn_conv()
  _, upd = module.apply(variables, x, update_stats=False, mutable=[SPECTRAL])
  for name in ("u", "v"):
    np.testing.assert_array_equal(upd[SPECTRAL][name], variables[SPECTRAL][name])
  _, upd = module.apply(variables, x, update_stats=True, mutable=[SPECTRAL])
  w_mat = _sigma_matrix(variables)
  u0 = np.asarray(variables[SPECTRAL]["u"])
  v1 = w_mat.T @ u0
  v1 /= np.linalg.norm(v1)
  u1 = w_mat @ v1
  u1 /= np.linalg.norm(u1)
  assert not np.allclose(upd[SPECTRAL]["u"], u0)
  np.testing.assert_allclose(upd[SPECTRAL]["v"], v1, atol=1e-6)
  np.testing.assert_allclose(upd[SPECTRAL]["u"], u1, atol=1e-6)


def test_no_gradient_through_u_v():
  """torch updates u, v under no_grad: the gradient is that of the forward with the new u, v held constant."""
  module, x, variables = _sn_conv()
  w_mat = _sigma_matrix(variables)
  u = np.asarray(variables[SPECTRAL]["u"])
  x = jax.random.normal(jax.random.PRNGKey(1), x.shape)

  def loss(params):
    y, _ = module.apply({"params": params, SPECTRAL: variables[SPECTRAL]}, x,
                        update_stats=True, mutable=[SPECTRAL])
    return jnp.sum(y)

  def loss_fixed(params):  # the same forward with the updated u, v frozen as constants
    w = jnp.transpose(params["kernel"], (3, 2, 0, 1)).reshape(w_mat.shape)
    v1 = w_mat.T @ u / np.linalg.norm(w_mat.T @ u)
    u1 = w_mat @ v1 / np.linalg.norm(w_mat @ v1)
    y = jax.lax.conv_general_dilated(x, params["kernel"] / (u1 @ (w @ v1)), (1, 1), [(1, 1)] * 2,
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.sum(y)

  g = jax.grad(loss)(variables["params"])["kernel"]
  g_ref = jax.grad(loss_fixed)(variables["params"])["kernel"]
  np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-6)
