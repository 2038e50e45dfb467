"""Torch UNetDiscriminatorSN state_dict -> Flax variables {'params', 'spectral'}."""
import numpy as np

from liifusion_jax.convert import torch_layout
from liifusion_jax.models.discriminator import SPECTRAL

PLAIN_CONVS = ("conv0", "conv9")
SN_CONVS = tuple(f"conv{i}" for i in range(1, 9))


def discriminator_params_from_state_dict(sd, prefix=""):
  """Variables of `UNetDiscriminatorSN` from torch's `{prefix}conv*` (weight_orig, weight_u, weight_v)."""
  params = {name: torch_layout.conv(sd, prefix + name) for name in PLAIN_CONVS}
  spectral = {}
  for name in SN_CONVS:
    params[name] = {"kernel": torch_layout.conv_kernel(sd[f"{prefix}{name}.weight_orig"])}
    spectral[name] = {"u": np.asarray(sd[f"{prefix}{name}.weight_u"], np.float32),
                      "v": np.asarray(sd[f"{prefix}{name}.weight_v"], np.float32)}
  return {"params": params, SPECTRAL: spectral}
