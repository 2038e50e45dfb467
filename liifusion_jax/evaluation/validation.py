"""Validation during training, configured by `config.val`: the model and bicubic scored per scale on
held-out images, and the first image's LR / bicubic / model / HR as a sample.

`val.protocol` makes the LR images and takes the PSNR (evaluation/protocols.py), `val.scales` lists
the scales, `val.crop` centre-crops the images (fixed shapes: few compiles), `val.lpips` adds LPIPS
(AlexNet), `val.dir` and `val.first_k` choose the images (default: held-out built-in photographs).
"""
import collections

import jax.numpy as jnp
import numpy as np

from liifusion_jax.data import defaults, images
from liifusion_jax.data.image_folder import ImageFolder
from liifusion_jax.evaluation import protocols
from liifusion_jax.losses.lpips import load_lpips_params, lpips
from liifusion_jax.data.images import normalise


def validation_images(source, crop):
  """Validation HR images as [0, 1] floats, centre-cropped to `crop` (0: whole) so shapes repeat."""
  result = []
  for i in range(len(source)):
    hr = images.as_float01(source[i])
    if crop:
      top, left = max(0, (hr.shape[0] - crop) // 2), max(0, (hr.shape[1] - crop) // 2)
      hr = hr[top:top + crop, left:left + crop]
    result.append(hr)
  return result


def upscaled(upscaler, hr_full, scale, protocol, seed=0, index=0):
  """{lr, bicubic, model, hr} images of one validation image (`index`: its place, seeding 'celeba')."""
  lr, hr = protocols.make_pair(hr_full, scale, protocol, index)
  return {"lr": lr, "bicubic": protocols.bicubic_upscale(lr, hr.shape[:2], protocol),
          "model": upscaler(lr, hr.shape[:2], hr01=hr, seed=seed), "hr": hr}


def validate(upscaler, hr_images, scales, protocol, seed=0, lpips_params=None, abandon=lambda: False):
  """(scores, samples): the mean PSNR (and LPIPS, given its params) per scale of the model and of
  bicubic, as metrics.jsonl's `val_psnr_x2`, `val_bicubic_psnr_x2`, ...; and the first image's
  `upscaled` images per scale. None where `abandon()` says so before an image."""
  results, samples = {}, {}
  for scale in scales:
    scores = collections.defaultdict(list)
    for index, hr_full in enumerate(hr_images):
      if abandon():
        return None
      pictures = upscaled(upscaler, hr_full, scale, protocol, seed, index)
      samples.setdefault(scale, pictures)
      hr = pictures["hr"]
      for prefix, name in (("val_", "model"), ("val_bicubic_", "bicubic")):
        sr = pictures[name]
        scores[f"{prefix}psnr_x{scale:g}"].append(protocols.score(sr, hr, scale, protocol))
        if lpips_params is not None:
          distance = lpips(lpips_params, normalise(jnp.asarray(sr)[None]), normalise(jnp.asarray(hr)[None]))
          scores[f"{prefix}lpips_x{scale:g}"].append(float(distance[0]))
    results.update({k: float(np.mean(v)) for k, v in scores.items()})
  return results, samples


class Validator:
  """A training run's validation as `val` (the config's `val` section) says; `seed` draws stage 2's
  prior noise, the same at every validation so that the figures compare."""

  def __init__(self, val, seed=0):
    self.val = val
    self.seed = seed
    source = ImageFolder(val.dir, first_k=val.first_k or None) if val.dir else defaults.val_source()
    self.hr_images = validation_images(source, val.crop)
    self.lpips_params = load_lpips_params("alex") if val.lpips else None

  def __call__(self, upscaler, step, log, bar=None, abandon=lambda: False):
    """Logs the scores at `step`, and the samples (TensorBoard images `val_sample_x<s>/<name>`);
    nothing where `abandon()` (a stop request) ends it early."""
    validated = validate(upscaler, self.hr_images, self.val.scales, self.val.protocol, self.seed,
                         self.lpips_params, abandon)
    if validated is None:
      return
    scores, samples = validated
    log({"step": step, **scores}, bar)
    log.images(step, {f"val_sample_x{scale:g}/{name}": image for scale, pictures in samples.items()
                      for name, image in pictures.items()})

  def write_sample(self, upscaler, directory, step, log):
    """Saves the LR, bicubic, model and HR images of the first image at the largest scale in
    `directory` (`x4_model.png`, ...), and logs their PSNRs."""
    scale, protocol = max(self.val.scales), self.val.protocol
    pictures = upscaled(upscaler, self.hr_images[0], scale, protocol, self.seed)
    directory.mkdir(parents=True, exist_ok=True)
    for name, image in pictures.items():
      images.save_image(directory / f"x{scale:g}_{name}.png", image)
    hr = pictures["hr"]
    log({"step": step, "sample": str(directory), "scale": scale,
         "psnr": protocols.score(pictures["model"], hr, scale, protocol),
         "bicubic_psnr": protocols.score(pictures["bicubic"], hr, scale, protocol)}, curves=False)
