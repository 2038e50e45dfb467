"""Checks made before any training work, so that a bad setting fails at once in one line.

Each raises `ConfigError` (a setting) or `ImageError` (a training image) naming what to change.
"""
import math

from liifusion_jax.config import ConfigError
from liifusion_jax.data import images
from liifusion_jax.evaluation import metrics, protocols
from liifusion_jax.losses import perceptual, reconstruction
from liifusion_jax.models.factory import MODELS, PRECISIONS

# Keys that count things: 0 or less means nothing sensible (keep_checkpoints=0 would delete them all).
POSITIVE = ("batch_size", "epochs", "save_every_epochs", "val.every_epochs", "log_every_steps",
            "keep_checkpoints", "eval_chunk", "data.patch", "data.sample_q", "data.repeat", "data.bucket")
# Keys where 0 means "all" or "none".
NON_NEGATIVE = ("steps_per_epoch", "val.crop", "val.first_k", "data.first_k", "data.num_workers")
# Learning rates and their decay factor: a negative rate climbs the loss (0 freezes the parameters).
RATES = ("optim.lr", "optim.d_lr", "optim.gamma")


def _get(config, key):
  node = config
  for part in key.split("."):
    node = node[part]
  return node


def check_config(config):
  """Known stage, counts positive, learning rates and loss weights >= 0 (0: frozen, the term off),
  scales >= 1, known precision and loss kinds."""
  if config.stage not in MODELS:
    raise ConfigError(f"unknown stage {config.stage!r}; known stages: {', '.join(MODELS)}")
  for key in RATES:
    if key.split(".")[1] in config.optim and not 0 <= _get(config, key) < math.inf:
      raise ConfigError(f"{key} must be >= 0 (0 freezes the parameters), got {_get(config, key)}")
  for name, weight in config.get("loss_weights", {}).items():
    if not 0 <= weight < math.inf:
      raise ConfigError(f"loss_weights.{name} must be >= 0 (0 turns the term off), got {weight}")
  for key in POSITIVE:
    if not _get(config, key) >= 1:
      raise ConfigError(f"{key} must be >= 1, got {_get(config, key)}")
  for key in NON_NEGATIVE:
    if not _get(config, key) >= 0:
      raise ConfigError(f"{key} must be >= 0, got {_get(config, key)}")
  if not config.val.scales or not all(1 <= s < math.inf for s in config.val.scales):
    raise ConfigError(f"val.scales must be numbers >= 1, got {config.val.scales}")
  if config.val.protocol not in protocols.PROTOCOLS:
    raise ConfigError(f"unknown val.protocol {config.val.protocol!r}; valid ones: "
                      f"{', '.join(protocols.PROTOCOLS)}")
  if config.precision not in PRECISIONS:
    raise ConfigError(f"unknown precision {config.precision!r}; valid ones: {', '.join(PRECISIONS)}")
  if config.loss not in reconstruction.KINDS:
    raise ConfigError(f"unknown loss {config.loss!r}; valid ones: {', '.join(reconstruction.KINDS)}")
  if "perceptual" in config:
    kind = config.perceptual.kind
    if kind not in perceptual.KINDS:
      raise ConfigError(f"unknown perceptual.kind {kind!r}; valid ones: {', '.join(perceptual.KINDS)}")
    if kind == "vgg19_pth" and not config.perceptual.path:
      raise ConfigError("perceptual.kind=vgg19_pth needs perceptual.path (a torchvision vgg19 state dict)")


def check_workdir(workdir):
  if workdir.exists() and not workdir.is_dir():
    raise ConfigError(f"workdir {workdir} exists and is not a folder")


def check_validation_images(hr_images, scales, protocol):
  """Every validation image must give an LR image and a PSNR at every validation scale."""
  for scale in scales:
    shave = metrics.shave_size(scale, protocol)
    for i, hr in enumerate(hr_images):
      lr_side = min(protocols.lr_size(hr.shape[:2], scale))
      # The HR image is cut to a whole number of LR pixels; the PSNR then shaves `shave` per border.
      if lr_side < 1 or round(lr_side * scale) <= 2 * shave:
        raise ConfigError(f"validation image {i} ({hr.shape[1]}x{hr.shape[0]}) is too small for scale "
                          f"{scale:g}: it needs more than {2 * shave} pixels a side after cutting to "
                          f"whole LR pixels (see val.crop, val.scales)")


def check_training_images(source):
  """Decodes every file of an uncached ImageFolder once, so a corrupt one fails now, not mid-run."""
  for path in getattr(source, "paths", ()):
    images.read_image(path)
