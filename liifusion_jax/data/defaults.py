"""The built-in data set: colour photographs shipped inside scikit-image (no download, no data folder).

Only images stored in the scikit-image package itself are used (`skimage.data` downloads others with
pooch). Enough to run training end to end, not to train a useful model.
"""
import numpy as np
import skimage.data

from liifusion_jax.data.image_folder import ArraySource

TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "hubble_deep_field", "motorcycle_left")
VAL_PHOTOS = ("chelsea", "immunohistochemistry")


def _photo(name):
  if name == "motorcycle_left":
    return skimage.data.stereo_motorcycle()[0]
  return getattr(skimage.data, name)()


def _load(names):
  arrays = []
  for name in names:
    img = np.asarray(_photo(name))
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[-1] != 3:
      raise ValueError(f"skimage photo {name} is not 8-bit RGB: {img.dtype} {img.shape}")
    arrays.append(img)
  return arrays


def train_source(repeat=1):
  """The training photographs as an in-memory source (uint8 RGB HWC)."""
  return ArraySource(_load(TRAIN_PHOTOS), repeat=repeat)


def val_source(repeat=1):
  """Held-out photographs (a cat and a microscopy slide), disjoint from `train_source`."""
  return ArraySource(_load(VAL_PHOTOS), repeat=repeat)
