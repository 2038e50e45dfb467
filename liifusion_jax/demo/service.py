"""What the demo computes, without its page: uploads read and checked, upscalings with progress, and
the deep-zoom view's encodings and tiles (`inference.region`).

An upscaling encodes the image once and decodes it in bands of rows (its progress); the deep-zoom
view decodes its tiles from the same encoding, kept for the KEEP latest images.
"""
import collections
import threading
import uuid

import numpy as np

from liifusion_jax.cli.errors import UsageError
from liifusion_jax.cli.upscale import output_size
from liifusion_jax.data import images
from liifusion_jax.demo import pyramid
from liifusion_jax.evaluation import protocols
from liifusion_jax.inference import canvas, region, tiled_pool, tiled_upscale
from liifusion_jax.inference.self_ensemble import TRANSFORMS, dihedral_mean
from liifusion_jax.resize.matlab_pil import to_uint8

KEEP = 2  # encoded images kept for the deep-zoom view
BAND_CHUNKS = 8  # decoder chunks per band of rows: the progress steps


def read_upload(path):
  """An uploaded file in its own mode (`images.read_native`: grey, alpha and 16 bits kept), as
  upscale.py reads its inputs; `app.Handlers` upscales it in that mode (`image_modes`)."""
  return images.read_native(path)


def for_display(image):
  """A float [0, 1] image or a `native_array` as uint8 the page can show: grey, RGB or RGBA
  (16 bits rounded to 8, grey + alpha as RGBA)."""
  image = np.asarray(image)
  if image.dtype == np.uint16:
    image = image / 65535.0
  if image.dtype != np.uint8:
    image = to_uint8(image)
  if image.ndim == 3 and image.shape[-1] == 2:
    image = image[..., [0, 0, 0, 1]]
  return image


class Service:
  """The demo's model: an `Upscaler` (stage 2), the upload cap and the output cap (long sides)."""

  def __init__(self, upscaler, max_side=1024, max_output_side=4096):
    if upscaler.stage != "stage2":
      raise UsageError(f"the demo needs a stage-2 checkpoint (this one is {upscaler.stage}): a stage-1 "
                       "model's prior is computed from the HR image")
    self.upscaler = upscaler
    self.max_side = max_side
    self.max_output_side = max_output_side
    self._encoded = collections.OrderedDict()  # key -> (Encoded, seed)
    self._lock = threading.Lock()  # one computation at a time: the tiles and an upscaling share the CPU

  def read(self, path):
    """The upload at `path` in its own mode (`read_upload`); UsageError over the size cap."""
    lr = read_upload(path)
    h, w = lr.shape[:2]
    if max(h, w) > self.max_side:
      raise UsageError(f"the image is {w}x{h}: the demo takes at most {self.max_side} pixels on the "
                       f"long side (--max-side to change it)")
    return lr

  def output_size(self, lr_hw, scale=None, size=None):
    """(H, W) of the output: `lr_hw` x `scale` (1-30) or `size` (H, W), within the output cap."""
    if scale is not None and not 1 <= scale <= pyramid.MAX_ZOOM:
      raise UsageError(f"the scale must be from 1 to {pyramid.MAX_ZOOM}, got {scale:g}")
    out_hw = output_size(lr_hw, scale, size)
    if max(out_hw) > self.max_output_side:
      raise UsageError(f"the output would be {out_hw[1]}x{out_hw[0]}, over the {self.max_output_side}-pixel "
                       "cap on its long side (--max-output-side): the deep-zoom view shows any part "
                       "of it up to x30")
    return out_hw

  def encode(self, lr01, seed):
    """(key, encoding) of `lr01` with `seed`, kept for `tile` under the key (the KEEP latest)."""
    with self._lock:
      encoded = region.encode(self.upscaler, lr01, seed=seed)
    key = uuid.uuid4().hex
    self._encoded[key] = encoded
    while len(self._encoded) > KEEP:
      self._encoded.popitem(last=False)
    return key, encoded

  def upscale(self, lr01, out_hw, seed=0, self_ensemble=False, progress=lambda fraction: None):
    """(model (H, W, 3), bicubic (H, W, 3), zoom key): floats in [0, 1], and the key of the plain
    model's encoding (the deep-zoom view's). `progress(fraction)` is called as bands are decoded."""
    key, encoded = self.encode(lr01, seed)
    if not self_ensemble:
      sr = self._in_bands(encoded, out_hw, progress)
    else:
      passes = iter(range(len(TRANSFORMS)))

      def one(lr, hw, _hr):
        done = next(passes)
        with self._lock:
          encoded = region.encode(self.upscaler, lr, seed=seed)
        return self._in_bands(encoded, hw, lambda f: progress((done + f) / len(TRANSFORMS)))

      sr = dihedral_mean(one, lr01, out_hw)
    return sr, protocols.bicubic_upscale(lr01, out_hw, "div2k"), key

  def _in_bands(self, encoded, out_hw, progress):
    """The `out_hw` upscaling of `encoded` in bands of BAND_CHUNKS chunks, `progress(fraction)` after each."""
    rows = max(1, BAND_CHUNKS * self.upscaler.chunk // out_hw[1])
    bands = []
    for top in range(0, out_hw[0], rows):
      bottom = min(out_hw[0], top + rows)
      with self._lock:
        bands.append(region.decode(self.upscaler, encoded, out_hw, ((top, 0), (bottom, out_hw[1]))))
      progress(bottom / out_hw[0])
    return np.concatenate(bands)

  def zoom_info(self, key):
    """The deep-zoom pyramid of an encoding: {width, height, tile, min_level, max_level}."""
    lr_hw = self._get(key).lr_hw
    top = pyramid.top_size(lr_hw)
    return {"width": top[1], "height": top[0], "tile": pyramid.TILE,
            "min_level": pyramid.min_level(lr_hw, top), "max_level": pyramid.max_level(top)}

  def tile(self, key, level, col, row):
    """Tile (col, row) of `level` of the deep-zoom pyramid: (h, w, 3) in [0, 1], decoded alone."""
    encoded = self._get(key)
    top = pyramid.top_size(encoded.lr_hw)
    if level < pyramid.min_level(encoded.lr_hw, top):
      raise KeyError(f"level {level} is below the lowest level served")
    window = pyramid.tile_window(top, level, col, row)
    with self._lock:
      return region.decode(self.upscaler, encoded, pyramid.level_size(top, level), window)

  def _get(self, key):
    if key not in self._encoded:
      raise KeyError(f"no image {key!r}: it was replaced by a newer one; upscale it again")
    return self._encoded[key]

  def warm_up(self):
    """Compiles (or loads from the persistent cache) the programs of every canvas side an upload
    within the cap meets, on one thin image per new side (a canvas's side follows the longer side);
    returns the number of images run."""
    seen, runs = set(), 0
    for n in [b for b in canvas.BUCKETS if b < self.max_side] + [self.max_side]:
      sides = {("features", s) for _, s, _, _ in tiled_upscale.feature_windows((n, 8), self.upscaler.tile)}
      sides |= {("pool", s) for _, s, _, _ in tiled_pool.windows((n, 8), self.upscaler.tile, tiled_pool.POOL_HALO)}
      if sides <= seen:
        continue
      seen |= sides
      lr = np.zeros((n, 8, 3), np.float32)
      with self._lock:
        region.decode(self.upscaler, region.encode(self.upscaler, lr), (n, 8), ((0, 0), (1, 1)))
      runs += 1
    return runs
