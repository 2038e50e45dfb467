"""The implicit-downsampled training sampler (the reference's `sr-implicit-downsampled` wrapper).

Paper section IV.2: a scale s ~ U(1, 4) redrawn every iteration; the reference draws it once per batch
(all images of a batch share s), which is what this does. Per image: a random HR crop of round(48 s)
pixels, LR = its bicubic downsample to 48 x 48 (PIL, `matlab_pil.resize_pil_bicubic`), the same random
flips / transpose on both, then either 2304 HR pixels drawn without replacement (stage 1) or, with
`sample_patch` (stage 2), a random contiguous 48 x 48 window of the HR crop, row-major, so that `gt`
reshapes to an image. Pure numpy; every draw comes from the `rng` passed in.
"""
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


def _augment(x, hflip, vflip, dflip):
  """The reference's flips on CHW (`flip(-2)`, `flip(-1)`, `transpose(-2, -1)`), here on HWC."""
  if hflip:
    x = x[::-1]
  if vflip:
    x = x[:, ::-1]
  if dflip:
    x = x.transpose(1, 0, 2)
  return np.ascontiguousarray(x)


def _sample_one(image, rng, patch, crop, sample_q, sample_patch, augment):
  """(lr, hr_crop, query indices into the flattened crop) for one image, as the reference's wrapper."""
  h, w = image.shape[:2]
  y0 = rng.integers(0, h - crop + 1)
  x0 = rng.integers(0, w - crop + 1)
  hr = as_float01(image[y0:y0 + crop, x0:x0 + crop])
  lr = resize_pil_bicubic(hr, (patch, patch))
  if augment:
    flips = rng.random(3) < 0.5
    hr, lr = _augment(hr, *flips), _augment(lr, *flips)
  if sample_patch:
    top = rng.integers(0, crop - patch + 1)
    left = rng.integers(0, crop - patch + 1)
    rows = np.arange(top, top + patch)[:, None] * crop
    q = (rows + np.arange(left, left + patch)[None, :]).reshape(-1)
  else:
    q = rng.choice(crop * crop, sample_q, replace=False)
  return lr, hr, q


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

  lrs, hrs, qs, skipped = [], [], [], 0
  for j in slots:
    slot_rng = streams[j]
    idx = int(indices[j]) if indices is not None else int(slot_rng.integers(len(images)))
    if min(images.hw(idx)) < crop:
      skipped += 1
      idx = big_enough[slot_rng.integers(len(big_enough))]
    lr, hr, q = _sample_one(images[idx], slot_rng, patch, crop, sample_q, sample_patch, augment)
    lrs.append(lr)
    hrs.append(hr)
    qs.append(q)
  if skipped:
    log.warning("%d image(s) smaller than the %d px crop at scale %.3f were replaced", skipped, crop,
                scale)

  lr, hr, q = np.stack(lrs), np.stack(hrs), np.stack(qs)
  b = len(lrs)
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
