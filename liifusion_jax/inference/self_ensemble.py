"""Geometric self-ensemble ("EDSR+", Lim et al. 2017): the 8 dihedral transforms of the LR image (a
left-right flip or not, then 0-3 quarter turns), or the 4 quarter turns, or the identity and one quarter
turn, each upscaled, the outputs transformed back and averaged. N times the time for a fraction of a dB.

The transforms are host-side (numpy) views, so they compile nothing. A quarter turn swaps the image's
height and width; canvases are square with a side set by the longer side (`canvas`, `tiled_pool.windows`),
so a transposed image runs on the same canvas sides and programs as the image itself.
"""
import numpy as np

# (quarter turns counter-clockwise, flipped left-right first); the identity first.
TRANSFORMS = tuple((turns, flip) for flip in (False, True) for turns in range(4))
QUARTER_TURNS = TRANSFORMS[:4]
# The ensembles offered, by size. The quarter turns remove the model's LR-grid pattern as the 8 do, at
# half the time; one quarter turn removes half of it (benchmarks/ensemble_grid.py).
ENSEMBLES = {1: TRANSFORMS[:1], 2: TRANSFORMS[:2], 4: QUARTER_TURNS, 8: TRANSFORMS}


def transforms(ensemble):
  """The transforms of an ensemble: a size of ENSEMBLES, True (the 8), or False or 0 (the identity)."""
  ensemble = 8 if ensemble is True else ensemble or 1
  if ensemble not in ENSEMBLES:
    raise ValueError(f"self-ensemble size {ensemble} is not one of {', '.join(map(str, ENSEMBLES))}")
  return ENSEMBLES[ensemble]


def apply(image, transform):
  """`image` (H, W, ...) under `transform`: a view, (W, H, ...) after an odd number of quarter turns."""
  turns, flip = transform
  return np.rot90(image[:, ::-1] if flip else image, turns)


def invert(image, transform):
  """Undoes `apply(., transform)`: invert(apply(x, t), t) is x exactly."""
  turns, flip = transform
  image = np.rot90(image, -turns)
  return image[:, ::-1] if flip else image


def size(hw, transform):
  """(H, W) of an image of `hw` under `transform`."""
  return tuple(hw[::-1]) if transform[0] % 2 else tuple(hw)


def dihedral_mean(upscale, lr, out_hw, hr=None, transforms=TRANSFORMS):
  """The mean over `transforms` of invert(upscale(apply(lr), size(out_hw), apply(hr))): `upscale(lr,
  (H, W), hr)` -> (H, W, C) of a transformed LR (and HR, where given: stage 1's prior reads it).
  Whatever else `upscale` takes (stage 2's noise seed) is the same for all of them."""
  total = None
  for transform in transforms:
    moved = lambda image: None if image is None else np.ascontiguousarray(apply(image, transform))
    out = invert(upscale(moved(lr), size(out_hw, transform), moved(hr)), transform)
    if total is None:
      total = np.array(out, np.float32)
    else:
      total += out
  return total / len(transforms)
