"""The 8 dihedral transforms of the self-ensemble, checked with stub upscalers (the model's own run is in
test_shape_stable.py and the command lines' tests)."""
import numpy as np
import pytest

from liifusion_jax.inference import self_ensemble


def _image(hw, seed=0):
  """Values k / 256: sums of 8 of them are exact in float32, so means compare exactly."""
  return (np.random.default_rng(seed).integers(0, 256, (*hw, 3)) / 256).astype(np.float32)


def _nearest(lr, out_hw, hr=None):
  """Pixel replication by a whole factor: the same under every flip and quarter turn."""
  factor = out_hw[0] // lr.shape[0]
  assert out_hw == (factor * lr.shape[0], factor * lr.shape[1])
  return np.repeat(np.repeat(lr, factor, axis=0), factor, axis=1)


def test_the_8_transforms_are_distinct_and_invert_exactly():
  image = _image((5, 7))
  moved = [self_ensemble.apply(image, t) for t in self_ensemble.TRANSFORMS]
  assert len({m.tobytes() for m in moved}) == 8
  assert self_ensemble.TRANSFORMS[0] == (0, False) and np.array_equal(moved[0], image)
  for t, m in zip(self_ensemble.TRANSFORMS, moved):
    assert m.shape[:2] == self_ensemble.size((5, 7), t) == ((7, 5) if t[0] % 2 else (5, 7))
    np.testing.assert_array_equal(self_ensemble.invert(m, t), image)
  assert {(7, 5), (5, 7)} == {m.shape[:2] for m in moved}


def test_an_equivariant_upscaler_is_its_own_ensemble():
  lr = _image((5, 7))
  np.testing.assert_array_equal(self_ensemble.dihedral_mean(_nearest, lr, (15, 21)), _nearest(lr, (15, 21)))
  hr = _image((10, 14), seed=1)  # the HR (stage 1's prior) is moved with the LR
  np.testing.assert_array_equal(self_ensemble.dihedral_mean(lambda lr, hw, hr: hr, lr, (10, 14), hr), hr)


def test_a_bias_along_the_width_averages_out():
  """A ramp 0..1 across each output's columns comes back as a ramp along one axis or the other, in
  either direction, each as often: the ensemble's bias is 0.5 everywhere."""
  def ramped(lr, out_hw, hr=None):
    return _nearest(lr, out_hw) + np.linspace(0, 1, out_hw[1], dtype=np.float32)[None, :, None]

  lr = _image((5, 7))
  got = self_ensemble.dihedral_mean(ramped, lr, (10, 14))
  np.testing.assert_allclose(got, _nearest(lr, (10, 14)) + 0.5, atol=1e-6)
  assert np.abs(ramped(lr, (10, 14)) - got).max() > 0.4


def test_sizes_and_extra_arguments_reach_every_transform():
  calls = []

  def record(lr, out_hw, hr):
    calls.append((lr.shape, out_hw, hr.shape, lr.flags.c_contiguous))
    return np.zeros((*out_hw, 3), np.float32)

  self_ensemble.dihedral_mean(record, _image((5, 7)), (11, 16), _image((11, 16)))
  assert sorted(set(calls)) == [((5, 7, 3), (11, 16), (11, 16, 3), True),
                                ((7, 5, 3), (16, 11), (16, 11, 3), True)]
  assert len(calls) == 8


def test_the_ensembles_offered():
  assert self_ensemble.transforms(True) == self_ensemble.transforms(8) == self_ensemble.TRANSFORMS
  assert self_ensemble.transforms(False) == self_ensemble.transforms(1) == ((0, False),)
  assert self_ensemble.transforms(4) == tuple((turns, False) for turns in range(4))
  assert self_ensemble.transforms(2) == ((0, False), (1, False))
  with pytest.raises(ValueError, match="self-ensemble size 3 is not one of 1, 2, 4, 8"):
    self_ensemble.transforms(3)


def test_the_quarter_turns_cancel_a_grid_that_differs_between_rows_and_columns():
  """A pattern g(row) - g(column) at the LR pixel period (each output's own frame) averages out over the
  4 quarter turns of a square image, exactly; the 4 flips keep it whole where g is symmetric."""
  g = np.asarray([1, -2, 1], np.float32) / 64
  def gridded(lr, out_hw, hr=None):
    rows, cols = np.tile(g, out_hw[0] // 3), np.tile(g, out_hw[1] // 3)
    return _nearest(lr, out_hw) + (rows[:, None] - cols[None, :])[..., None]

  lr = _image((4, 4))
  clean = _nearest(lr, (12, 12))
  turns = self_ensemble.dihedral_mean(gridded, lr, (12, 12), transforms=self_ensemble.transforms(4))
  np.testing.assert_allclose(turns, clean, atol=1e-6)
  flips = ((0, False), (0, True), (2, True), (2, False))
  np.testing.assert_allclose(self_ensemble.dihedral_mean(gridded, lr, (12, 12), transforms=flips),
                             gridded(lr, (12, 12)), atol=1e-6)
