"""Arbitrary-scale upscaling of one image with a trained model, for validation, eval.py and upscale.py.

Stage 1 needs the HR image (its prior comes from it: the paper's stage-1 tables); stage 2 samples the
prior from noise with a seedable key and needs only the LR image.

Shape-stable: images go through square canvases of a few fixed sides (`canvas`), so a whole evaluation
compiles a bounded number of programs, however many image sizes it meets:
- the prior: the prior encoder (stage 1, on Concat(HR, LR-up)) or the condition encoder (stage 2, on
  LR) pooled over canvases (`tiled_pool`): one program per canvas side, at most len(canvas.sides(cap))
  with cap = PRIOR_TILE + 32 (stage 1) or tile + 32 (stage 2); then one program for the head (and
  stage 2's sampler);
- the features and the decoder: per feature canvas side (at most len(tiled_upscale.feature_sides(tile)),
  the buckets a window larger) one program for EDSR + injection, one for the decoder's projection, one
  for a chunk of queries (every chunk has `chunk` queries, the last one padded).
Images larger than `tile` + 160 LR pixels are encoded tile by tile (`tiled_upscale`), in bounded memory.
The self-ensemble (`self_ensemble`) adds none: its transposed images run on the same square canvases;
nor does a region decode (`region`: one output window from a kept encoding, through `decode_window`).
"""
import pathlib
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from liifusion_jax import sharding, xla_options
from liifusion_jax.progress import counter, reporter
from liifusion_jax.checkpoints.inference_file import PRETRAINED
from liifusion_jax.checkpoints.run import load_params
from liifusion_jax.data.images import normalise
from liifusion_jax.inference import canvas, chunked_decode, region, tiled_pool, tiled_upscale
from liifusion_jax.inference import self_ensemble as ensembles
from liifusion_jax.models.factory import build_model
from liifusion_jax.models.stage1 import make_prior_input

DEFAULT_CHUNK = 30000  # queries per decoder call: the reference's eval_bsize
PRIOR_TILE = 512  # HR pixels per tile side of the stage-1 prior encoder: ~0.5 GB of activations
TILE = 384  # LR pixels per tile side of the features: about 2.8 GB of host memory on CPU


def prior_noise(seed, dim):
  """z_T (1, dim) of the stage-2 sampler for a seed: the same seed, the same sampled prior."""
  return jax.random.normal(jax.random.PRNGKey(seed), (1, dim), jnp.float32)


class Upscaler:
  """`upscaler(lr01, (H, W), hr01=None, seed=0, self_ensemble=False, progress=None)` -> (H, W, 3) float32
  in [0, 1].

  Uses every local device: the params are replicated on them and each chunk of queries is split
  across them (one device: the same path).

  Args:
    stage: "stage1" (the prior from the HR image) or "stage2" (the prior sampled from noise).
    params: the model's params: host arrays, or a training state's (possibly multi-process or sharded)
      ones, as `set_params` takes them (so constructing one is a collective as that is).
    model_config: the run's `model` section (a dict or ConfigDict; {} for the reference's model).
    chunk: queries per decoder call, rounded up to a multiple of the local device count.
    tile: LR pixels per tile side (a multiple of 8), or None to encode every image on one canvas.
    precision: the networks' compute dtype, "float32" or "bf16" (`models.factory.PRECISIONS`).
  """

  def __init__(self, stage: str, params: Mapping[str, Any], model_config: Mapping[str, Any],
               chunk: int = DEFAULT_CHUNK, tile: int | None = TILE, precision: str = "float32"):
    tiled_upscale.check_tile(tile)
    self.stage = stage
    self.tile = tile
    self.mesh = sharding.local_mesh()
    devices = self.mesh.size
    self.chunk = -(-int(chunk) // devices) * devices  # whole per-device slices
    self.set_params(params)
    self.model = build_model(stage, model_config, precision)
    model = self.model
    if stage == "stage1":
      self._prior_sum = tiled_pool.activation_sum(model, "prior_encoder")
      self._prior_head = xla_options.jit(lambda p, pooled, scale: model.apply(
          {"params": p}, pooled, scale, method=lambda m, pooled, scale: m.prior_from_pooled(pooled, scale)))
    else:
      self._condition_sum = tiled_pool.activation_sum(model, "condition_encoder")
      self._sample = xla_options.jit(lambda p, pooled, noise: model.apply(
          {"params": p}, pooled, noise,
          method=lambda m, pooled, noise: m.prior_generator(m.condition_encoder.head(pooled), noise)))
    self._encode = xla_options.jit(lambda p, lr, frame, z: model.apply(
        {"params": p}, lr, frame, z,
        method=lambda m, lr, frame, z: m.inject(m.features(lr, frame.image_mask), z, frame)))
    # The decoder's first layer on the features runs once per canvas, not once per chunk of queries.
    self._project = xla_options.jit(lambda p, feat: model.apply(
        {"params": p}, feat, method=lambda m, f: m.decoder.project(f)))
    query = lambda p, grid, frame, coord, cell: model.apply(
        {"params": p}, grid, frame, coord, cell, method=lambda m, g, f, c, s: m.decoder.query(g, c, s, f))
    # Queries are independent given the features: each device decodes its slice of the chunk.
    queries = P(None, sharding.AXIS)
    self._query = xla_options.jit(jax.shard_map(
        query, mesh=self.mesh, in_specs=(P(), P(), P(), queries, queries), out_specs=queries))

  @classmethod
  def from_checkpoint(cls, path: str | pathlib.Path, chunk: int | None = None, tile: int | None = TILE,
                      precision: str = "float32") -> "Upscaler":
    """The upscaler of a trained model, its stage and `model` config taken from the checkpoint.

    Args:
      path: a run folder, its checkpoints/ folder, one step folder, an inference file (.npz) or
        `pretrained:NAME` (see `checkpoints.run.load_params`).
      chunk: queries per decoder call; None: the run's `eval_chunk` (else DEFAULT_CHUNK).
      tile: as for `Upscaler`.
      precision: the caller's, not the run's: a model trained in bf16 evaluates in float32 unless
        told otherwise.

    Returns:
      An Upscaler on this process's devices.

    Raises:
      CheckpointError: `path` is missing, unreadable or holds NaN/inf.
    """
    params, meta = load_params(path)
    config = meta.get("config", {})
    return cls(meta["stage"], params, config.get("model", {}),
               chunk=chunk or config.get("eval_chunk") or DEFAULT_CHUNK, tile=tile, precision=precision)

  @classmethod
  def pretrained(cls, name: str = "stage2", chunk: int | None = None, tile: int | None = TILE,
                 precision: str = "float32") -> "Upscaler":
    """A bundled model: `Upscaler.pretrained()(lr01, (H, W), seed=0)` upscales with no checkpoint.

    Args:
      name: "stage2" (needs only the LR image) or "stage1" (needs the HR image too).
      chunk, tile, precision: as for `from_checkpoint`.
    """
    return cls.from_checkpoint(PRETRAINED + name, chunk, tile, precision)

  @property
  def params(self) -> dict[str, Any]:
    """The params in use, replicated on this process's devices (read-only: see `set_params`)."""
    return self._params

  def set_params(self, params: Mapping[str, Any]) -> None:
    """Upscales with `params` from now on: host arrays, or a training state's (possibly multi-process or
    sharded) ones, copied onto this process's devices.

    A collective where some array is split across processes (`sharding.to_local` gathers it): then
    every process must call it, with the same params, at the same point of the program.
    """
    self._params = sharding.to_local(params, self.mesh)

  def max_programs(self):
    """The most programs this upscaler compiles over images of any sizes (None without tiles): per
    feature canvas side its encoder, projection and chunk of queries; per pooling canvas side its
    encoder; the prior's head (and stage 2's sampler); stage 2's noise (a key and a normal draw)."""
    features = tiled_upscale.feature_sides(self.tile)
    if features is None:
      return None
    pool_tile = PRIOR_TILE if self.stage == "stage1" else self.tile
    pools = canvas.sides(pool_tile + 2 * tiled_pool.POOL_HALO)
    return 3 * len(features) + len(pools) + 1 + (2 if self.stage == "stage2" else 0)

  def prior(self, lr01: np.ndarray, hr01: np.ndarray | None = None, seed: int = 0) -> jax.Array:
    """The prior z (1, 256) injected into the features: stage 1's from the HR image (Eq. 1), stage
    2's sampled from noise seeded by `seed` and conditioned on the LR image."""
    lr = normalise(np.asarray(lr01, np.float32)[None])
    if self.stage == "stage2":
      pooled = tiled_pool.pooled_in_tiles(self._condition_sum, self.params, lr, self.tile)
      return self._sample(self.params, pooled, prior_noise(seed, self.model.prior_dim))
    if hr01 is None:
      raise ValueError("a stage-1 model needs the HR image for its prior; use a stage-2 checkpoint "
                       "to upscale images without HR")
    hr = normalise(np.asarray(hr01, np.float32)[None])
    pooled = tiled_pool.pooled_in_tiles(self._prior_sum, self.params, make_prior_input(lr, hr, xp=np),
                                        PRIOR_TILE)
    scale = np.asarray([[hr.shape[1] / lr.shape[1], hr.shape[2] / lr.shape[2]]], np.float32)
    return self._prior_head(self.params, pooled, scale)

  def features(self, lr01: np.ndarray, hr01: np.ndarray | None = None, seed: int = 0) -> Iterator[tuple]:
    """Yields (frame, feature canvas (1, s, s, C), tile start (y, x), tile stop (y, x)) per canvas:
    the prior-injected features M' of the LR image, one canvas at a time."""
    z = self.prior(lr01, hr01, seed)
    lr = normalise(np.asarray(lr01, np.float32)[None])
    hw = lr.shape[1:3]
    for offset, side, start, stop in tiled_upscale.feature_windows(hw, self.tile):
      frame = canvas.frame(hw, offset, side)
      yield frame, self._encode(self.params, canvas.crop(lr, offset, side), frame, z), start, stop

  def __call__(self, lr01: np.ndarray, out_hw: tuple[int, int], hr01: np.ndarray | None = None,
               seed: int = 0, self_ensemble: bool | int = False, progress=None) -> np.ndarray:
    """The image upscaled to `out_hw`.

    Args:
      lr01: the LR image (h, w, 3), floats in [0, 1].
      out_hw: the output's (height, width): any scale, not necessarily the same for both sides.
      hr01: the HR image (H, W, 3) in [0, 1], which a stage-1 model's prior needs; unused in stage 2.
      seed: the seed of stage 2's sampled prior (the same seed, the same image).
      self_ensemble: the mean over the 8 flips and quarter turns of the LR image (True or 8; 8x the
        time, the same programs), over its 4 quarter turns (4: as free of the LR-grid pattern as 8)
        or over it and one quarter turn (2); stage 2's prior is sampled from the same noise (`seed`)
        for all of them, each conditioned on its own transformed LR.
      progress: True to report the query chunks done on stderr with the time left (once the work
        has taken a few seconds; `liifusion_jax.progress`), or a callable `progress(done, total)`
        called after each chunk; None: silent.

    Returns:
      The (H, W, 3) float32 image in [0, 1].
    """
    transforms = ensembles.transforms(self_ensemble)
    report = reporter(progress, "upscaling", "query chunks")
    step = report and counter(report, sum(self.chunks(ensembles.size(lr01.shape[:2], t),
                                                     ensembles.size(out_hw, t)) for t in transforms))
    if len(transforms) > 1:
      return ensembles.dihedral_mean(lambda lr, hw, hr: self._upscale(lr, hw, hr, seed, step), lr01, out_hw,
                                     hr01, transforms)
    return self._upscale(lr01, out_hw, hr01, seed, step)

  def chunks(self, lr_hw, out_hw):
    """The decoder calls (chunks of queries) that upscaling an image of `lr_hw` to `out_hw` takes."""
    window = ((0, 0), tuple(out_hw))
    blocks = (region.output_block(start, stop, lr_hw, out_hw, window)
              for _, _, start, stop in tiled_upscale.feature_windows(tuple(lr_hw), self.tile))
    return sum(-(-max(0, r1 - r0) * max(0, c1 - c0) // self.chunk) for (r0, r1), (c0, c1) in blocks)

  def _upscale(self, lr01, out_hw, hr01, seed, step=None):
    out_hw = tuple(int(v) for v in out_hw)
    return self.decode_window(self.projected(lr01, hr01, seed), lr01.shape[:2], out_hw, ((0, 0), out_hw),
                              step)

  def projected(self, lr01: np.ndarray, hr01: np.ndarray | None = None, seed: int = 0) -> Iterator[tuple]:
    """Yields (frame, projected features (1, s, s, hidden), tile start, tile stop) per canvas: what the
    decoder reads (`features` through the decoder's first layer), one canvas at a time."""
    for frame, feat, start, stop in self.features(lr01, hr01, seed):
      yield frame, self._project(self.params, feat), start, stop

  def decode_window(self, canvases, lr_hw, out_hw, window, step=None):
    """Output pixels [top:bottom, left:right] (H, W, 3) in [0, 1] of the `out_hw` upscaling, from the
    canvases `projected` yields for an LR image of `lr_hw`; window = ((top, left), (bottom, right));
    `step()` after each chunk of queries, where given."""
    (top, left), (bottom, right) = window
    out = np.empty((bottom - top, right - left, 3), np.float32)
    for frame, grid, start, stop in canvases:
      (r0, r1), (c0, c1) = region.output_block(start, stop, lr_hw, out_hw, window)
      if r1 > r0 and c1 > c0:
        coord, cell = chunked_decode.query_grid(*out_hw, slice(r0, r1), slice(c0, c1))
        query = lambda g, c, s: self._query(self.params, g, frame, c, s)
        rgb = chunked_decode.decode_in_chunks(query, grid, coord, cell, self.chunk, step)
        out[r0 - top:r1 - top, c0 - left:c1 - left] = chunked_decode.to_image(rgb, r1 - r0, c1 - c0)[0]
    return out
