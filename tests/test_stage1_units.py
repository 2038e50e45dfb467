"""Unit tests of the stage-1 building blocks (bicubic, coords, prior encoder mask, windows, LIIF)."""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from liifusion_jax.convert.stage1 import stage1_params_from_state_dict
from liifusion_jax.coords import make_cell, make_coord
from liifusion_jax.models import liif
from liifusion_jax.models.prior_encoder import PriorEncoder
from liifusion_jax.models.prior_injector import (PriorInjector, relative_position_index,
                                                 shift_mask, window_merge, window_partition)
from liifusion_jax.models.stage1 import LIIFusionStage1, scale_from_cell
from liifusion_jax.resize.torch_bicubic import bicubic_matrix, resize_bicubic_torch


def _nhwc(x):
  return np.transpose(x, (0, 2, 3, 1))


def _random_params(model, *args, method=None, seed=0, **kwargs):
  """Random variables of the shapes `model.init` makes (compiling the real initialisers on CPU
  costs seconds per test): N(0, 1 / fan_in) kernels and tables, N(0, 0.1) vectors."""
  rng = np.random.default_rng(seed)
  shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), *args, method=method, **kwargs))

  def fill(x):
    std = 1 / np.sqrt(np.prod(x.shape[:-1])) if x.ndim > 1 else 0.1
    return jnp.asarray(rng.normal(size=x.shape) * std, jnp.float32)

  return jax.tree_util.tree_map(fill, shapes)


# --- coordinates and bicubic -------------------------------------------------------------------

def test_make_coord_is_bit_identical_to_reference(golden):
  g = golden("stage1")
  for case, hw in (("c0", (57, 81)), ("c1", (32, 48))):
    np.testing.assert_array_equal(make_coord(hw)[None], g[f"{case}/coord"])
    np.testing.assert_array_equal(make_cell(make_coord(hw), hw)[None], g[f"{case}/cell"])


def test_make_coord_ranges_and_layout():
  c = make_coord((2, 4), ranges=((0, 1), (-2, 2)), flatten=False)
  assert c.shape == (2, 4, 2) and c.dtype == np.float32
  np.testing.assert_allclose(c[:, 0, 0], [0.25, 0.75])
  np.testing.assert_allclose(c[0, :, 1], [-1.5, -0.5, 0.5, 1.5])


def test_bicubic_matrix_hand_computed():
  # Upscale 4 -> 8: dst 0 samples src -0.25 (t = 0.75, neighbours -2..1 clamped to 0,0,0,1);
  # dst 1 samples 0.25. Keys cubic, a = -0.75: w(0.25) = 0.87890625, w(0.75) = 0.26171875,
  # w(1.25) = -0.10546875, w(1.75) = -0.03515625.
  m = bicubic_matrix(4, 8)
  np.testing.assert_allclose(m[0], [1.10546875, -0.10546875, 0, 0], atol=1e-7)
  np.testing.assert_allclose(m[1], [0.7734375, 0.26171875, -0.03515625, 0], atol=1e-7)
  np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-6)
  # Downscale 4 -> 2 without antialiasing: src 0.5 and 2.5, t = 0.5, w(0.5) = 0.59375,
  # w(1.5) = -0.09375; the tap below 0 (above 3) is clamped onto pixel 0 (3).
  d = bicubic_matrix(4, 2)
  np.testing.assert_allclose(d[0], [0.59375 - 0.09375, 0.59375, -0.09375, 0], atol=1e-7)
  np.testing.assert_allclose(d[1], [0, -0.09375, 0.59375, 0.59375 - 0.09375], atol=1e-7)
  np.testing.assert_array_equal(bicubic_matrix(5, 5), np.eye(5, dtype=np.float32))


def test_resize_bicubic_matches_torch_interpolate(golden):
  g = golden("stage2")
  for case in ("c0", "c1"):
    lr, want = _nhwc(g[f"{case}/inp"]), _nhwc(g[f"{case}/lr_up"])
    got_np = resize_bicubic_torch(lr, want.shape[1:3], xp=np)
    got_jax = jax.jit(resize_bicubic_torch, static_argnums=1)(lr, want.shape[1:3])
    assert isinstance(got_np, np.ndarray)
    np.testing.assert_allclose(got_np, want, rtol=0, atol=1e-4)
    np.testing.assert_allclose(got_jax, want, rtol=0, atol=1e-4)


# --- prior encoder -----------------------------------------------------------------------------

def test_prior_encoder_mask_equals_unpadded():
  """Two images of different sizes on one padded canvas (one off the corner) give the same z as
  each image alone: what lets training bucket variable HR crops into a few static shapes."""
  rng = np.random.default_rng(0)
  enc = PriorEncoder(n_feats=8, dim=32)
  a = rng.normal(size=(1, 13, 11, 6)).astype(np.float32)
  b = rng.normal(size=(1, 9, 14, 6)).astype(np.float32)
  params = _random_params(enc, a)
  canvas = rng.normal(size=(2, 20, 16, 6)).astype(np.float32) * 10  # garbage in the padding
  mask = np.zeros((2, 20, 16, 1), np.float32)
  canvas[0, :13, :11], mask[0, :13, :11] = a[0], 1
  canvas[1, 5:14, 1:15], mask[1, 5:14, 1:15] = b[0], 1
  padded = enc.apply(params, canvas, mask)
  alone = np.concatenate([enc.apply(params, a), enc.apply(params, b)])
  assert padded.shape == (2, 32)
  assert np.abs(alone).max() > 1e-3
  np.testing.assert_allclose(padded, alone, rtol=0, atol=1e-5)
  # Without the mask the padding leaks in.
  assert np.abs(enc.apply(params, canvas) - alone).max() > 1e-3


# --- prior injector windows --------------------------------------------------------------------

def test_window_partition_order_and_round_trip():
  x = np.arange(2 * 16 * 24 * 3, dtype=np.float32).reshape(2, 16, 24, 3)
  win = np.asarray(window_partition(jnp.asarray(x), 8))
  assert win.shape == (2, 6, 64, 3)
  for w in range(6):
    for n in (0, 9, 63):
      np.testing.assert_array_equal(win[1, w, n], x[1, (w // 3) * 8 + n // 8, (w % 3) * 8 + n % 8])
  np.testing.assert_array_equal(window_merge(jnp.asarray(win), 16, 24), x)


def test_shift_mask_swin_pattern():
  m = shift_mask(16, 16, 8)
  assert m.shape == (4, 64, 64)
  assert set(np.unique(m)) == {0.0, -100.0}
  # Window 0 is one region; windows 1 and 2 hold two regions of 32 pixels; window 3 four of 16.
  assert [(m[w] == 0).sum() for w in range(4)] == [64 * 64, 2 * 32 * 32, 2 * 32 * 32, 4 * 16 * 16]
  # Window 1 (top right) splits at column 4 inside the window: pixel 3 and 4 of a row differ.
  assert m[1, 3, 4] == -100 and m[1, 3, 0] == 0 and m[1, 4, 7 + 8 * 5] == 0
  np.testing.assert_array_equal(m, np.transpose(m, (0, 2, 1)))
  # Larger maps: only the last window row / column is split.
  big = shift_mask(24, 32, 8)
  assert big.shape == (12, 64, 64)
  interior = [w for w in range(12) if w // 4 < 2 and w % 4 < 3]
  assert all((big[w] == 0).all() for w in interior)


def test_relative_position_index():
  idx = relative_position_index(8)
  assert idx.shape == (64, 64)
  assert idx.min() == 0 and idx.max() == 224 and len(np.unique(idx)) == 225
  assert (np.diag(idx) == 7 * 15 + 7).all()
  np.testing.assert_array_equal(idx + idx.T, 224)
  # Pixel (0, 0) vs (7, 7): dy = dx = -7.
  assert idx[0, 63] == 0 and idx[63, 0] == 224 and idx[0, 1] == 7 * 15 + 6


def test_prior_injector_variants():
  rng = np.random.default_rng(1)
  feat = jnp.asarray(rng.normal(size=(1, 10, 13, 16)), jnp.float32)
  prior = jnp.asarray(rng.normal(size=(1, 32)), jnp.float32)
  q_model = PriorInjector(dim=16, prior_dim=32, depth=2, heads=4, prior_to="q")
  params = _random_params(q_model, feat, prior)
  out_q = q_model.apply(params, feat, prior)
  out_qkv = PriorInjector(dim=16, prior_dim=32, depth=2, heads=4, prior_to="qkv").apply(
      params, feat, prior)
  assert out_q.shape == feat.shape and bool(jnp.isfinite(out_qkv).all())
  assert float(jnp.abs(out_q - out_qkv).max()) > 1e-4  # the prior now reaches K and V
  # The prior matters in both.
  assert float(jnp.abs(q_model.apply(params, feat, prior * 0) - out_q).max()) > 1e-4
  with pytest.raises(ValueError, match="prior_to"):
    PriorInjector(dim=16, prior_dim=32, prior_to="kv").init(jax.random.PRNGKey(0), feat, prior)


# --- conditional LIIF --------------------------------------------------------------------------

def test_nearest_index_matches_brute_force_grid_sample():
  rng = np.random.default_rng(2)
  for size in (5, 8, 21):
    c = rng.uniform(-1, 1, size=2000).astype(np.float32)
    centres = make_coord((size,))[:, 0]
    want = np.argmin(np.abs(c[:, None] - centres[None, :]), axis=1)
    np.testing.assert_array_equal(liif.nearest_index(jnp.asarray(c), size), want)
  # Exact ties round half to even, as grid_sample's nearbyint: size 4, c = 0 -> 1.5 -> 2.
  np.testing.assert_array_equal(liif.nearest_index(jnp.asarray([0.0, -0.5, -1.0, 1.0]), 4),
                                [2, 0, 0, 3])


def test_ensemble_weights_are_bilinear_and_sum_to_one():
  rng = np.random.default_rng(3)
  h, w = 7, 9
  coord = jnp.asarray(rng.uniform(-1, 1, size=(2, 500, 2)), jnp.float32)
  iy, ix, rel = liif.ensemble_queries(coord, h, w)
  weights = liif.ensemble_weights(rel)
  assert weights.shape == (2, 4, 500)
  np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
  # Queries between 4 feature centres: each neighbour's weight is its bilinear weight.
  inside = np.all(np.abs(np.asarray(coord)) < np.array([1 - 1 / h, 1 - 1 / w]), axis=-1)
  bilinear = np.prod(1 - np.abs(np.asarray(rel)) / 2, axis=-1)  # centres are 2 units apart
  np.testing.assert_allclose(np.asarray(weights).transpose(0, 2, 1)[inside],
                             bilinear.transpose(0, 2, 1)[inside], atol=1e-5)
  # The 4 neighbours are the 2x2 block around the query (distinct rows/columns inside).
  assert (np.abs(np.asarray(rel)) <= 2 + 1e-5).all()
  iy, ix = np.asarray(iy), np.asarray(ix)
  assert ((iy[:, 0] != iy[:, 2]) | ~inside).all() and ((ix[:, 0] != ix[:, 1]) | ~inside).all()


# --- stage-1 model and converter ---------------------------------------------------------------

def _init_shapes(model):
  lr, hr = jnp.zeros((1, 8, 8, 3)), jnp.zeros((1, 16, 16, 3))
  coord = jnp.asarray(make_coord((16, 16)))[None]
  variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), lr, hr, coord,
                                                jnp.asarray(make_cell(coord, (16, 16)))))
  return jax.tree_util.tree_map(lambda x: x.shape, variables["params"])


def test_converter_tree_matches_model_and_rejects_bad_keys(golden):
  g = golden("stage1")
  sd = {k[3:]: v for k, v in g.items() if k.startswith("sd/")}
  params = stage1_params_from_state_dict(sd)
  assert jax.tree_util.tree_map(np.shape, params) == _init_shapes(LIIFusionStage1())
  missing = dict(sd)
  del missing["prior_injector.inner.3.ln1.bias"]
  with pytest.raises(KeyError, match=r"prior_injector\.inner\.3\.ln1\.bias"):
    stage1_params_from_state_dict(missing)
  with pytest.raises(KeyError, match=r"imnet\.layers\.10\.weight"):
    stage1_params_from_state_dict({**sd, "imnet.layers.10.weight": np.zeros((3, 3))})
  with pytest.raises(KeyError, match="prior_generator.x"):
    stage1_params_from_state_dict({**sd, "prior_generator.x": np.zeros(3)})


def test_scale_aware_prior_variant():
  model = LIIFusionStage1(n_feats=8, prior_dim=32, scale_aware_prior=True)
  assert _init_shapes(model)["scale_embed_0"]["kernel"] == (2, 32)
  rng = np.random.default_rng(4)
  prior_in = jnp.asarray(rng.normal(size=(1, 16, 16, 6)), jnp.float32)
  params = _random_params(model, prior_in, method="prior", scale=jnp.ones((1, 2)))
  prior = jax.jit(functools.partial(model.apply, method="prior"))
  z2 = prior(params, prior_in, scale=jnp.asarray([[2.0, 2.0]]))
  z4 = prior(params, prior_in, scale=jnp.asarray([[4.0, 4.0]]))
  assert float(jnp.abs(z2 - z4).max()) > 1e-5
  with pytest.raises(ValueError, match="scale"):
    model.apply(params, prior_in, method="prior")
  # Without an explicit scale, __call__ reads it from the first query's cell and the LR size.
  lr = jnp.zeros((1, 10, 8, 3))
  cell = jnp.asarray(make_cell(make_coord((25, 12)), (25, 12)))[None]
  np.testing.assert_allclose(scale_from_cell(lr, cell), [[2.5, 1.5]], rtol=1e-6)
