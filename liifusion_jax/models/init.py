"""PyTorch's default initialisation of Conv2d / Linear kernels (kaiming_uniform with a = sqrt(5)).

U(-1/sqrt(fan_in), 1/sqrt(fan_in)), i.e. variance 1/(3 fan_in): trained from scratch, our networks
start where the reference's do (Flax's lecun-normal default is sqrt(3) times wider). Biases start at 0.
`Conv` and `Dense` are the Flax layers with that kernel initialiser; `Conv` convolves through
`models.conv` (a faster kernel gradient on CPU, the same values).
"""
import functools

import flax.linen as nn

from liifusion_jax.models.conv import FlaxConvFunction

torch_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
Conv = functools.partial(nn.Conv, kernel_init=torch_kernel_init, conv_general_dilated_cls=FlaxConvFunction)
Dense = functools.partial(nn.Dense, kernel_init=torch_kernel_init)
