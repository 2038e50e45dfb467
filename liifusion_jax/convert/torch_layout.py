"""PyTorch -> Flax array layouts (conv OIHW -> HWIO, linear (out, in) -> (in, out))."""
import numpy as np


def conv_kernel(weight):
  """A torch Conv2d weight (O, I, kh, kw) as a Flax Conv kernel (kh, kw, I, O)."""
  return np.transpose(np.asarray(weight, np.float32), (2, 3, 1, 0))


def dense_kernel(weight):
  """A torch Linear weight (out, in) as a Flax Dense kernel (in, out)."""
  return np.transpose(np.asarray(weight, np.float32), (1, 0))


def conv(sd, prefix, bias=True):
  """Params of a Flax Conv from torch's `{prefix}.weight` / `{prefix}.bias`."""
  params = {"kernel": conv_kernel(sd[f"{prefix}.weight"])}
  if bias:
    params["bias"] = np.asarray(sd[f"{prefix}.bias"], np.float32)
  return params


def dense(sd, prefix, bias=True):
  """Params of a Flax Dense from torch's `{prefix}.weight` / `{prefix}.bias`."""
  params = {"kernel": dense_kernel(sd[f"{prefix}.weight"])}
  if bias:
    params["bias"] = np.asarray(sd[f"{prefix}.bias"], np.float32)
  return params


def layer_norm(sd, prefix):
  """Params of a Flax LayerNorm from torch's `{prefix}.weight` / `{prefix}.bias`."""
  return {"scale": np.asarray(sd[f"{prefix}.weight"], np.float32),
          "bias": np.asarray(sd[f"{prefix}.bias"], np.float32)}
