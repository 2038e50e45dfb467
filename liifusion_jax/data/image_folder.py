"""Random-access image sources (grain `RandomAccessDataSource` protocol: `__len__`, `__getitem__`).

Items are RGB HWC arrays as `images.read_image` returns them: uint8 for 8-bit files (a quarter of the
memory of float32), float32 in [0, 1] for 16-bit ones; `images.as_float01` turns either into [0, 1] floats.
Every source also answers `hw(i)`, the (H, W) of item i, without decoding it, so the sampler can pick
images big enough for a crop.
"""
import hashlib
import os

import numpy as np

from liifusion_jax.config import ConfigError
from liifusion_jax.data import decoded_cache, images


class _Source:
  """Indexing shared by the sources: `repeat` copies of `count` items (the reference's `repeat`)."""

  def __init__(self, count, repeat):
    if repeat < 1:
      raise ValueError(f"repeat must be >= 1, got {repeat}")
    self._count = count
    self._repeat = int(repeat)

  def __len__(self):
    return self._count * self._repeat

  def _index(self, i):
    i = int(i)
    if not -len(self) <= i < len(self):
      raise IndexError(f"index {i} out of range for {len(self)} items")
    return i % self._count

  def __getitem__(self, i):
    return self._get(self._index(i))

  def hw(self, i):
    return self._sizes[self._index(i)]


class ImageFolder(_Source):
  """The image files of a folder in name order, like the reference's `image-folder` dataset.

  first_k: keep the first k files. repeat: the source lists every file `repeat` times (one epoch of the
  reference is one pass over it). cache_dir: decode every file once into a cache file in that folder,
  memory-mapped by every process that reads it (`decoded_cache`; the reference's `in_memory`, one copy
  for all grain workers); None decodes the files on each access.
  """

  def __init__(self, root, first_k=None, repeat=1, cache_dir=None):
    paths = images.list_images(root)
    if first_k is not None:
      paths = paths[:first_k]
    super().__init__(len(paths), repeat)
    self.paths = paths
    if cache_dir is None:
      self._decoded = None
      self._sizes = [images.image_size(p) for p in paths]
    else:
      self._decoded = decoded_cache.decoded_images(paths, cache_dir, _cache_name(root, first_k))
      self._sizes = [self._decoded.hw(i) for i in range(len(paths))]

  def _get(self, i):
    return self._decoded[i] if self._decoded is not None else images.read_image(self.paths[i])

  def __repr__(self):
    root = os.path.dirname(self.paths[0])
    return f"ImageFolder({root!r}, {self._count} images, repeat={self._repeat})"


def _cache_name(root, first_k):
  """A folder's name in the cache folder: readable, and distinct for each folder and first_k."""
  root = os.path.realpath(root)
  return f"{os.path.basename(root)}-{hashlib.sha256(f'{root}|{first_k}'.encode()).hexdigest()[:8]}"


def split_folders(spec):
  """The folders of a `data.train_dir` value: one folder, or several separated by commas; a folder
  named twice (by any path) is kept once, with a warning, not given twice the weight."""
  folders, seen = [], {}
  for folder in (name.strip() for name in spec.split(",")):
    if not folder:
      raise ConfigError(f"data.train_dir {spec!r} has an empty folder name (folders are separated by commas)")
    real = os.path.realpath(folder)
    if real in seen:
      print(f"warning: data.train_dir names {real} twice ({seen[real]!r}, {folder!r}); it is used once")
      continue
    seen[real] = folder
    folders.append(folder)
  return folders


class ArraySource(_Source):
  """In-memory images (RGB HWC, uint8 or [0, 1] float) as a source."""

  def __init__(self, arrays, repeat=1):
    arrays = [np.asarray(a) for a in arrays]
    for a in arrays:
      if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(f"expected RGB HWC images, got shape {a.shape}")
    if not arrays:
      raise ValueError("ArraySource needs at least one image")
    super().__init__(len(arrays), repeat)
    self._arrays = arrays
    self._sizes = [a.shape[:2] for a in arrays]

  def _get(self, i):
    return self._arrays[i]


class ConcatSource(_Source):
  """The items of several sources one after the other, `repeat` times (e.g. a folder plus the
  built-in photographs)."""

  def __init__(self, sources, repeat=1):
    self.paths = [path for source in sources for path in getattr(source, "paths", ())]  # of the folders
    self._items = [(source, i) for source in sources for i in range(len(source))]
    if not self._items:
      raise ValueError("ConcatSource needs at least one image")
    super().__init__(len(self._items), repeat)
    self._sizes = [source.hw(i) for source, i in self._items]

  def _get(self, i):
    source, j = self._items[i]
    return source[j]
