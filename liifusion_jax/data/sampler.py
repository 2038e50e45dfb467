"""The implicit-downsampled training sampler (the reference's `sr-implicit-downsampled` wrapper).

Paper section IV.2: a scale s ~ U(1, 4) redrawn every iteration; the reference draws it once per batch
(all images of a batch share s), which is what this does. Per image: a random HR crop of round(48 s)
pixels, LR = its bicubic downsample to 48 x 48 (PIL, `matlab_pil.resize_pil_bicubic`), the same random
flips / transpose on both, then either 2304 HR pixels drawn without replacement (stage 1) or, with
`sample_patch` (stage 2), a random contiguous 48 x 48 window of the HR crop, row-major, so that `gt`
reshapes to an image. Pure numpy; every draw comes from the `rng` passed in: `draw_crop` makes one
image's draws in the reference's order, `cut_sample` turns them into its sample and `assemble_batch`
stacks the samples (tests/test_train_parity.py feeds the last two the reference's recorded draws).
"""
import dataclasses
import logging
import math

import numpy as np

from liifusion_jax.config import ConfigError
from liifusion_jax.coords import make_cell, make_coord
from liifusion_jax.data.images import as_float01
from liifusion_jax.resize.matlab_pil import resize_pil_bicubic
from liifusion_jax.resize.torch_bicubic import bicubic_matrix

log = logging.getLogger(__name__)


def crop_size(patch, scale):
  """HR crop side for an LR patch side at `scale`: Python's round, as the reference."""
  return round(patch * scale)


def bucket_size(size, bucket):
  """`size` rounded up to a multiple of `bucket`."""
  return int(math.ceil(size / bucket) * bucket)


def check_sampler_args(images, *, patch, scale_min, scale_max, sample_q, sample_patch):
  """Raises ConfigError for settings no batch can satisfy (checked once before training)."""
  if not 1 <= scale_min <= scale_max:
    raise ConfigError(f"need 1 <= scale_min <= scale_max, got {scale_min}, {scale_max}")
  if not sample_patch and sample_q > crop_size(patch, scale_min) ** 2:
    raise ConfigError(f"sample_q={sample_q} exceeds the {crop_size(patch, scale_min) ** 2} HR pixels "
                     f"of the smallest crop ({crop_size(patch, scale_min)} px at scale {scale_min})")
  crop = crop_size(patch, scale_max)
  sizes = [images.hw(i) for i in range(len(images))]
  if not any(min(hw) >= crop for hw in sizes):
    biggest = max(sizes, key=min)
    raise ConfigError(f"no image can supply a {crop} x {crop} HR crop (patch {patch} at scale_max "
                     f"{scale_max}); the largest is {biggest[0]} x {biggest[1]}")


@dataclasses.dataclass(frozen=True)
class CropDraws:
  """One image's random draws, in the order the reference's wrapper makes them.

  top, left: the HR crop's corner (the reference's `x0`, row, then `y0`, column); flips: hflip
  (rows, torch `flip(-2)`), vflip (columns, `flip(-1)`), dflip (transpose), each drawn as
  `random() < 0.5`; queries: the sampled pixels' indices into the flattened augmented crop
  (`np.random.choice`, or a contiguous window's, `window_queries`).
  """
  top: int
  left: int
  flips: tuple[bool, bool, bool]
  queries: np.ndarray


def window_queries(top, left, patch, crop):
  """Row-major indices of the patch x patch window at (top, left) of a flattened crop x crop image."""
  return (np.arange(top, top + patch)[:, None] * crop + np.arange(left, left + patch)[None, :]).reshape(-1)


def reference_draws(values, choices, *, patch, sample_patch):
  """(scale, [CropDraws per image]) from the draws the reference's wrapper made for one batch, in its
  order: `values` holds the scale, then per image its corner (row, column), its three flips' `random()`
  and, with `sample_patch`, its window's corner (row, column); `choices` the `np.random.choice`
  indices per image (empty with `sample_patch`)."""
  scale, per_image = values[0], 7 if sample_patch else 5
  crop = crop_size(patch, scale)
  draws = []
  for j in range((len(values) - 1) // per_image):
    v = values[1 + j * per_image:1 + (j + 1) * per_image]
    flips = tuple(bool(x < 0.5) for x in v[2:5])
    queries = window_queries(int(v[5]), int(v[6]), patch, crop) if sample_patch else np.asarray(choices[j])
    draws.append(CropDraws(int(v[0]), int(v[1]), flips, queries))
  return scale, draws


def draw_crop(rng, hw, *, patch, crop, sample_q, sample_patch, augment):
  """The `CropDraws` of one image of size `hw`, from `rng` (a numpy Generator)."""
  top = int(rng.integers(0, hw[0] - crop + 1))
  left = int(rng.integers(0, hw[1] - crop + 1))
  flips = tuple(bool(f) for f in rng.random(3) < 0.5) if augment else (False, False, False)
  if sample_patch:
    queries = window_queries(int(rng.integers(0, crop - patch + 1)),
                             int(rng.integers(0, crop - patch + 1)), patch, crop)
  else:
    queries = rng.choice(crop * crop, sample_q, replace=False)
  return CropDraws(top, left, flips, queries)


def apply_flips(x, flips):
  """The reference's flips on CHW (`flip(-2)`, `flip(-1)`, `transpose(-2, -1)`, in that order),
  here on HWC."""
  hflip, vflip, dflip = flips
  if hflip:
    x = x[::-1]
  if vflip:
    x = x[:, ::-1]
  if dflip:
    x = x.transpose(1, 0, 2)
  return np.ascontiguousarray(x)


def cut_sample(image, draws, *, patch, crop):
  """(lr, hr_crop, queries) of one image from its draws, as the reference's wrapper: the crop, its LR
  by the reference's `resize_fn` (`resize_pil_bicubic`), then the same flips on both."""
  hr = as_float01(image[draws.top:draws.top + crop, draws.left:draws.left + crop])
  lr = resize_pil_bicubic(hr, (patch, patch))
  return apply_flips(lr, draws.flips), apply_flips(hr, draws.flips), draws.queries


def make_batch(images, rng, *, batch_size, patch=48, scale_min=1, scale_max=4, sample_q=2304,
               sample_patch=False, augment=True, bucket=32, indices=None, shard_index=0,
               shard_count=1):
  """One training batch, all arrays float32, images in [0, 1] (not normalised).

  images: a source (`__getitem__`, `__len__`, `hw(i)`, see image_folder). rng: a numpy Generator; it
  draws the batch's scale and spawns one child stream per slot, so slot j's sample does not depend on
  the other slots. indices: the image index wanted in each of the `batch_size` slots (drawn uniformly
  when None). An image smaller than the crop at this batch's scale is replaced by one drawn uniformly
  from the images that are big enough (logged with a count); a ValueError when none is.
  shard_index / shard_count: return only this shard's contiguous slice of the slots (the batch axis
  split across processes); the shards concatenated equal the unsharded batch.

  Keys: 'inp' (b, patch, patch, 3) LR; 'gt' (b, Q, 3) and 'coord' (b, Q, 2) at the sampled HR pixel
  centres (Q = sample_q, or patch**2 with `sample_patch`); 'cell' (b, Q, 2) = (2/H, 2/W) of the HR
  crop; 'hr' (b, Hb, Hb, 3) the HR crop, zero beyond it up to the bucket size
  Hb = ceil(H / bucket) * bucket (so a jitted step compiles once per bucket); 'lr_to_hr_matrix'
  (b, Hb, patch) the matrix upsampling the LR patch to the crop with torch's bicubic `interpolate`
  semantics (`bicubic_matrix(patch, H)`), zero rows beyond the crop; 'scale' (b,) the drawn s.
  The prior input of Eq. (1), Concat(HR, LR-up), and its mask are not shipped: the train step builds
  them from 'inp', 'hr' and 'lr_to_hr_matrix' (`models.stage1.padded_prior_input`), which is cheap on
  the device and halves the bytes a batch carries from the loader's worker processes.
  """
  if batch_size % shard_count:
    raise ValueError(f"batch_size {batch_size} is not divisible by shard_count {shard_count}")
  scale = rng.uniform(scale_min, scale_max)
  crop = crop_size(patch, scale)
  streams = rng.spawn(batch_size)
  per_shard = batch_size // shard_count
  slots = range(shard_index * per_shard, (shard_index + 1) * per_shard)
  big_enough = [i for i in range(len(images)) if min(images.hw(i)) >= crop]
  if not big_enough:
    raise ValueError(f"no image can supply a {crop} x {crop} HR crop (patch {patch}, scale {scale:.3f})")

  samples, skipped = [], 0
  for j in slots:
    slot_rng = streams[j]
    idx = int(indices[j]) if indices is not None else int(slot_rng.integers(len(images)))
    if min(images.hw(idx)) < crop:
      skipped += 1
      idx = big_enough[slot_rng.integers(len(big_enough))]
    draws = draw_crop(slot_rng, images.hw(idx), patch=patch, crop=crop, sample_q=sample_q,
                      sample_patch=sample_patch, augment=augment)
    samples.append(cut_sample(images[idx], draws, patch=patch, crop=crop))
  if skipped:
    log.warning("%d image(s) smaller than the %d px crop at scale %.3f were replaced", skipped, crop,
                scale)
  return assemble_batch(samples, scale, bucket)


def assemble_batch(samples, scale, bucket):
  """The batch `make_batch` documents, from per-image `cut_sample` results at one `scale`."""
  lr, hr, q = (np.stack(parts) for parts in zip(*samples))
  patch, crop = lr.shape[1], hr.shape[1]
  b = len(samples)
  coord = make_coord((crop, crop))[q]
  gt = hr.reshape(b, crop * crop, 3)[np.arange(b)[:, None], q]
  hb = bucket_size(crop, bucket)
  # One matrix per slot, not one per batch: every array keeps the batch axis leading, so the batch
  # splits over processes and devices like the others (it is small: Hb x patch floats).
  lr_to_hr_matrix = np.zeros((b, hb, patch), np.float32)
  lr_to_hr_matrix[:, :crop] = bicubic_matrix(patch, crop)
  hr_padded = np.zeros((b, hb, hb, 3), np.float32)
  hr_padded[:, :crop, :crop] = hr
  return {
      "inp": lr,
      "gt": gt,
      "coord": coord,
      "cell": make_cell(coord, (crop, crop)),
      "hr": hr_padded,
      "lr_to_hr_matrix": lr_to_hr_matrix,
      "scale": np.full((b,), scale, np.float32),
  }
