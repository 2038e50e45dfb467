"""Evaluation sets and their (LR, HR) pairs.

A data set is a folder of HR images, a single image file, a folder in the layout of the common benchmark
package (`HR/` with the LR images in `LR_bicubic/X{s}/`, named `baby.png` or `babyx2.png`), DIV2K's
layout (`DIV2K_valid_HR/` with `DIV2K_valid_LR_bicubic/X{s}/0801x{s}.png` beside it), or the embedded
default photographs. Provided LR images are used at x2-x4 where they exist (the reference's test configs
pair them at these scales only), as the reference's `sr-implicit-paired` does (HR cropped to s * LR
size); at other scales the LR image is made from the HR one under the evaluation protocol
(`protocols.make_pair`).
"""
import os
import pathlib

from liifusion_jax.data import defaults
from liifusion_jax.data.images import (EXTENSIONS, ImageError, as_float01, image_size, list_images,
                                       load_image)
from liifusion_jax.evaluation import metrics, protocols


PROVIDED_SCALES = (2, 3, 4)


class TooSmall(ValueError):
  """An image too small for a scale: skipped with a warning rather than failing the evaluation."""


class EvalDataset:
  """Named HR images, loaded on demand, with an optional folder of provided LR images."""

  def __init__(self, name, names, load_hr, hr_size, lr_root=None):
    """hr_size: (H, W) of an HR image without decoding it (from the file's header); lr_root: the
    folder holding X2/, X3/, X4/ of provided LR images, or None."""
    self.name = name
    self.names = names
    self._load_hr = load_hr
    self.hr_size = hr_size
    self.lr_root = lr_root

  def __len__(self):
    return len(self.names)

  def hr(self, index):
    return self._load_hr(index)

  def provided_lr_dir(self, scale):
    """`<lr_root>/X{s}` where it exists for this scale (2, 3 or 4), else None."""
    if self.lr_root is None or scale not in PROVIDED_SCALES:
      return None
    folder = self.lr_root / f"X{int(scale)}"
    return folder if folder.is_dir() else None


def _lr_root(path):
  """The provided-LR folder of an HR folder: `<path>/LR_bicubic` (benchmark package, `path` holding
  HR/) or DIV2K's `<name>_LR_bicubic` beside `<name>_HR`; None where there is none."""
  candidates = [path / "LR_bicubic"]
  if path.name.endswith("_HR"):
    candidates.append(path.parent / (path.name[:-len("_HR")] + "_LR_bicubic"))
  return next((c for c in candidates if c.is_dir()), None)


def open_dataset(path, first_k=None):
  """The data set at `path` (a folder, a benchmark-package folder or one image), named after it;
  `first_k`: only its first k images (sorted by name)."""
  path = pathlib.Path(path)
  if not path.exists():
    raise FileNotFoundError(f"data path {path} does not exist")
  if path.is_file():
    return EvalDataset(path.stem, [path.name], lambda _: load_image(path), lambda _: image_size(path))
  hr_dir = path / "HR" if (path / "HR").is_dir() else path
  lr_root = _lr_root(path)
  paths = [pathlib.Path(p) for p in list_images(hr_dir)][:first_k]
  return EvalDataset(path.resolve().name, [p.name for p in paths], lambda i: load_image(paths[i]),
                     lambda i: image_size(paths[i]), lr_root)


def default_dataset():
  """The embedded held-out photographs (`data.defaults.val_source`), named "default"."""
  source = defaults.val_source()
  return EvalDataset("default", list(defaults.VAL_PHOTOS), lambda i: as_float01(source[i]), source.hw)


def _provided_lr_path(folder, hr_name, scale):
  stem, ext = os.path.splitext(hr_name)
  for name in (f"{stem}x{int(scale)}", stem):
    for suffix in (ext,) + EXTENSIONS + tuple(e.upper() for e in EXTENSIONS):
      candidate = folder / (name + suffix)
      if candidate.is_file():
        return candidate
  raise FileNotFoundError(f"no LR image for {hr_name} in {folder} (looked for {stem}x{int(scale)}{ext} "
                          f"and {stem}{ext})")


def _check_size(hr, lr, scale, protocol, name):
  shave = metrics.shave_size(scale, protocol)
  if min(lr.shape[:2]) < 1 or min(hr.shape[:2]) <= 2 * shave:
    raise TooSmall(f"{name} ({hr.shape[1]}x{hr.shape[0]}) is too small for scale {scale:g} "
                   f"(the PSNR shaves {shave} pixels from each border)")


def lr_hr_pair(dataset, index, scale, protocol):
  """(lr01, hr01) of image `index` at `scale`: provided LR where there is one, else made from HR."""
  hr = dataset.hr(index)
  name = dataset.names[index]
  folder = dataset.provided_lr_dir(scale)
  if folder is None:
    h_lr, w_lr = protocols.lr_size(hr.shape[:2], scale)
    if min(h_lr, w_lr) < 1:
      raise TooSmall(f"{name} ({hr.shape[1]}x{hr.shape[0]}) is too small for scale {scale:g}")
    lr, hr = protocols.make_pair(hr, scale, protocol, index)
  else:
    path = _provided_lr_path(folder, name, scale)
    lr = load_image(path)
    s = int(scale)
    h_hr, w_hr = lr.shape[0] * s, lr.shape[1] * s
    if hr.shape[0] < h_hr or hr.shape[1] < w_hr:
      raise ImageError(f"LR image {path} ({lr.shape[1]}x{lr.shape[0]}) does not match {name} "
                       f"({hr.shape[1]}x{hr.shape[0]}) at scale {s}")
    hr = hr[:h_hr, :w_hr]
  _check_size(hr, lr, scale, protocol, name)
  return lr, hr
