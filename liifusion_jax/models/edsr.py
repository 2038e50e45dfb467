"""EDSR-baseline feature encoder (the LR feature map M of section III), without upsampling."""
import flax.linen as nn

from liifusion_jax.models.init import Conv


class EDSRBaseline(nn.Module):
  """head conv, `n_resblocks` x (conv-ReLU-conv + skip), body conv, global skip.

  The reference keeps `sub_mean` / `add_mean` layers but does not call them in forward: neither
  exists here (the converter drops their weights).
  """
  n_resblocks: int = 16
  n_feats: int = 64

  @nn.compact
  def __call__(self, x):
    def conv(name):
      return Conv(self.n_feats, (3, 3), padding=1, name=name)

    x = conv("head")(x)
    res = x
    for i in range(self.n_resblocks):
      y = nn.relu(conv(f"block_{i}_conv_0")(res))
      res = res + conv(f"block_{i}_conv_1")(y)
    return x + conv("body_conv")(res)
