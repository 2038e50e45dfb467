"""Stage-2 upscaling of an LR image of any size in bounded memory: the LR image in tiles with a halo.

`Upscaler` encodes the whole LR image at once: about 7.5 KB of host memory per LR pixel on CPU, so
~16 GB for a 1920x1080 input. Here the result is the same (to float rounding) in fixed memory:
- the prior: the condition encoder ends in a global average pool, so z_c (and the prior z0_hat sampled
  from it) is built from per-tile sums of its last activation (`tiled_pool`);
- the features: EDSR-baseline + prior injection run on a canvas around each tile reaching HALO pixels
  past it. HALO covers the receptive field (34 EDSR convs, six blocks of 8x8-window attention reaching
  at most 7 pixels each, the injector's conv, the decoder's 3x3 unfold and local ensemble). Canvases
  start on the attention-window grid (or end at the image's end with the image's size modulo 8, so
  the injector pads them as it pads the image), so their windows are the whole image's;
- the decoding: each tile is decoded in sub-tiles of about `chunk` queries, every sub-tile from its
  own crop of the features (plus MARGIN pixels) in the crop's coordinates. The decoder's 3x3
  projection runs over the whole map it is given at every call: small crops keep that cost in
  proportion to the queries.
Canvases, crops and chunks have one size per image, so an image compiles each program once: on CPU
every compiled shape keeps a share of its working memory until JAX's caches are cleared.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np

from liifusion_jax import inference
from liifusion_jax.coords import make_coord
from liifusion_jax.tiled_pool import activation_sum, place, pooled_in_tiles, spans, window_size
from liifusion_jax.upscaler import normalise, prior_noise

WINDOW = 8     # the prior injector's attention window
HALO = 80      # >= 34 + 6 * 7 + 1 + 3: the LR pixels around a tile that its features depend on
MARGIN = 4     # feature pixels around the decoded LR region: ensemble neighbour (2) + 3x3 unfold (1)


def local_queries(rows, cols, crop_y, crop_x, lr_hw, out_hw):
  """Coordinates and cells of output pixels `rows` x `cols` in the frame of the feature crop
  [crop_y) x [crop_x) of an LR image of `lr_hw`: the same LR positions and cell sizes in crop pixels."""
  frames = []
  for idx, (a, b), n, size in zip((rows, cols), (crop_y, crop_x), lr_hw, out_hw):
    c = make_coord((size,))[idx, 0].astype(np.float64)  # the whole image's coordinates
    frames.append((((c + 1.0) * n - 2.0 * a) / (b - a) - 1.0, 2.0 / size * n / (b - a)))
  (ys, cell_y), (xs, cell_x) = frames
  coord = np.stack(np.meshgrid(ys, xs, indexing="ij"), axis=-1).reshape(1, -1, 2).astype(np.float32)
  cell = np.broadcast_to(np.asarray([cell_y, cell_x], np.float32), coord.shape).copy()
  return coord, cell


class TiledUpscaler:
  """`tiled(lr01, (H, W), seed=0)` -> (H, W, 3) float32 in [0, 1], as the stage-2 `upscaler` gives.

  tile: LR pixels per tile side (a multiple of WINDOW); each tile is encoded on a canvas of about
  tile + 2 * HALO pixels a side, so memory follows that whatever the image size. An image within one
  canvas goes through `upscaler` itself.
  """

  def __init__(self, upscaler, tile=384, halo=HALO):
    if upscaler.stage != "stage2":
      raise ValueError("tiled upscaling needs a stage-2 model: stage 1 takes its prior from the HR image")
    if tile < WINDOW or tile % WINDOW or halo % WINDOW:
      raise ValueError(f"tile ({tile}) and halo ({halo}) must be multiples of {WINDOW}, tile >= {WINDOW}")
    self.upscaler, self.tile, self.halo = upscaler, int(tile), int(halo)
    model = upscaler.model
    self._condition_sum = activation_sum(model, "condition_encoder")
    self._encoder_head = jax.jit(lambda p, pooled: model.apply(
        {"params": p}, pooled, method=lambda m, pooled: m.condition_encoder.head(pooled)))
    self._sample = jax.jit(lambda p, zc, noise: model.apply(
        {"params": p}, zc, noise, method=lambda m, zc, noise: m.prior_generator(zc, noise)))
    self._encode = jax.jit(lambda p, x, z: model.apply(
        {"params": p}, x, z, method=lambda m, x, z: m.inject(m.features(x), z)))

  def prior(self, lr01, seed=0):
    """z0_hat (1, 4C) of the whole image, as `LIIFusionStage2.sample_prior` with the upscaler's noise."""
    lr = normalise(np.asarray(lr01, np.float32)[None])
    pooled = pooled_in_tiles(self._condition_sum, self.upscaler.params, lr, self.tile)
    zc = self._encoder_head(self.upscaler.params, pooled)
    return self._sample(self.upscaler.params, zc, prior_noise(seed))

  def __call__(self, lr01, out_hw, seed=0):
    if max(lr01.shape[:2]) <= self.tile + 2 * self.halo:  # one canvas holds the whole image
      return self.upscaler(lr01, out_hw, seed=seed)
    return self.upscale_tiles(lr01, out_hw, seed)

  def upscale_tiles(self, lr01, out_hw, seed=0):
    """The same result as `upscaler(lr01, out_hw, seed=seed)`, tile by tile (whatever the size)."""
    h, w = lr01.shape[:2]
    out_h, out_w = (int(v) for v in out_hw)
    z = self.prior(lr01, seed)
    canvas_size = [window_size(n, self.tile, self.halo, WINDOW) for n in (h, w)]
    # Sub-tiles of about `chunk` queries that divide the tile, all decoded with one chunk size.
    target = math.sqrt(self.upscaler.chunk * h * w / (out_h * out_w))
    sub = max(d for d in range(1, self.tile + 1) if self.tile % d == 0 and (d <= target or d == 1))
    crop_size = [window_size(n, sub, MARGIN) for n in (h, w)]
    chunk = min(self.upscaler.chunk, (math.ceil(sub * out_h / h) + 1) * (math.ceil(sub * out_w / w) + 1))
    out = np.empty((out_h, out_w, 3), np.float32)
    for ys in spans(h, self.tile):
      for xs in spans(w, self.tile):
        cy, cx = place(ys, self.halo, canvas_size[0], h), place(xs, self.halo, canvas_size[1], w)
        canvas = normalise(jnp.asarray(lr01[cy[0]:cy[1], cx[0]:cx[1]], jnp.float32)[None])
        feat = np.asarray(self._encode(self.upscaler.params, canvas, z))  # host crops: no slice compiles
        for sy in spans(ys[1] - ys[0], sub):
          for sx in spans(xs[1] - xs[0], sub):
            region = (ys[0] + sy[0], ys[0] + sy[1]), (xs[0] + sx[0], xs[0] + sx[1])
            crop = [place(r, MARGIN, size, n) for r, size, n in zip(region, crop_size, (h, w))]
            f = feat[:, crop[0][0] - cy[0]:crop[0][1] - cy[0], crop[1][0] - cx[0]:crop[1][1] - cx[0]]
            self._decode_region(region, crop, f, (h, w), out, chunk)
    return out

  def _decode_region(self, region, crop, feat, lr_hw, out, chunk):
    """Decodes into `out` the output pixels whose LR positions fall in `region` (rows, cols), from the
    features `feat` of the LR `crop` (rows, cols) around it."""
    out_hw = out.shape[:2]
    (r0, r1), (q0, q1) = [tuple(round(v * o / n) for v in span) for span, o, n in zip(region, out_hw, lr_hw)]
    if r1 <= r0 or q1 <= q0:
      return
    coord, cell = local_queries(np.arange(r0, r1), np.arange(q0, q1), crop[0], crop[1], lr_hw, out_hw)
    queries = coord.shape[1]
    if queries < chunk:  # pad to the one chunk shape (`decode` would shrink the chunk to fit)
      coord, cell = (np.pad(a, ((0, 0), (0, chunk - queries), (0, 0)), mode="edge") for a in (coord, cell))
    rgb = self.upscaler.decode(feat, coord, cell, chunk)[:, :queries]
    out[r0:r1, q0:q1] = inference.to_image(rgb, r1 - r0, q1 - q0)[0]
