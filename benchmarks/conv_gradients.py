"""Milliseconds per convolution of the networks' layer shapes: forward, input gradient, kernel gradient;
XLA's own kernel gradient against models/conv.py's, and PyTorch's (oneDNN) beside them where installed.

  python benchmarks/conv_gradients.py --batch 4

Each layer is a 3x3 'same' convolution of `--batch` images (NHWC, float32): EDSR's and the decoder's on
the 48 x 48 LR patch, the prior encoder's on its 120 x 120 HR canvas (scale 2.5). The JAX programs
are jitted alone and called alternately, `--repeats` rounds of `--calls` calls (the fastest call of each
round, then the median over rounds); then PyTorch's the same way (not interleaved with JAX's: each
framework's idle threads spin a while after a call). Prints one JSON line per layer.
"""
import argparse
import statistics
import time

from liifusion_jax.cli import launch

launch.start("train")  # huge pages where train.py gets them (cli/huge_pages.py), before the imports below

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from bench_common import emit
from liifusion_jax import xla_options
from liifusion_jax.models import conv

# (input channels, output channels, side, where)
LAYERS = ((3, 64, 48, "EDSR head"), (64, 64, 48, "EDSR body (33 of them)"), (64, 256, 48, "decoder projection"),
          (6, 64, 120, "prior encoder conv_0"), (64, 64, 120, "prior encoder conv_1-7"),
          (64, 128, 120, "prior encoder conv_8"), (128, 128, 120, "prior encoder conv_9"),
          (128, 256, 120, "prior encoder conv_10"))
PADDING = ((1, 1), (1, 1))


def _lax_conv(x, kernel):
  return lax.conv_general_dilated(x, kernel, (1, 1), PADDING, dimension_numbers=conv.NHWC)


def _ours(x, kernel):
  return conv.conv(x, kernel, (1, 1), PADDING)


def programs(x, kernel, g):
  """name -> zero-argument call of a jitted program on these arrays."""
  kernel_gradient = lambda fn: xla_options.jit(lambda x, g: jax.vjp(lambda k: fn(x, k), kernel)[1](g)[0])
  input_gradient = xla_options.jit(lambda k, g: jax.vjp(lambda t: _lax_conv(t, k), x)[1](g)[0])
  forward = xla_options.jit(_lax_conv)
  xla_kernel, our_kernel = kernel_gradient(_lax_conv), kernel_gradient(_ours)
  return {"forward": lambda: forward(x, kernel), "input_gradient": lambda: input_gradient(kernel, g),
          "kernel_gradient_xla": lambda: xla_kernel(x, g), "kernel_gradient_ours": lambda: our_kernel(x, g)}


def torch_programs(x, kernel, g):
  """The same three computations in PyTorch (NCHW, 2 threads), or {} without it."""
  try:
    import torch
  except ImportError:
    return {}
  torch.set_num_threads(2)
  tx, tg = (torch.tensor(np.asarray(a)).permute(0, 3, 1, 2).contiguous() for a in (x, g))
  tk = torch.tensor(np.asarray(kernel)).permute(3, 2, 0, 1).contiguous()
  backward = torch.ops.aten.convolution_backward
  grads = lambda mask: backward(tg, tx, tk, None, (1, 1), (1, 1), (1, 1), False, (0, 0), 1, mask)
  return {"torch_forward": lambda: torch.nn.functional.conv2d(tx, tk, padding=1),
          "torch_input_gradient": lambda: grads((True, False, False)),
          "torch_kernel_gradient": lambda: grads((False, True, False))}


def time_alternately(calls, repeats, per_round):
  times = {name: [] for name in calls}
  for call in calls.values():
    jax.block_until_ready(call())  # compile, warm up
  for _ in range(repeats):
    for name, call in calls.items():
      best = float("inf")
      for _ in range(per_round):
        start = time.perf_counter()
        jax.block_until_ready(call())
        best = min(best, time.perf_counter() - start)
      times[name].append(best)
  return {name: round(statistics.median(t) * 1e3, 2) for name, t in times.items()}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch", type=int, default=4)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--calls", type=int, default=3)
  args = parser.parse_args()
  rng = np.random.default_rng(0)
  for cin, cout, side, where in LAYERS:
    x = jnp.asarray(rng.standard_normal((args.batch, side, side, cin), np.float32))
    kernel = jnp.asarray(rng.standard_normal((3, 3, cin, cout), np.float32) / np.sqrt(9 * cin))
    g = jnp.asarray(rng.standard_normal((args.batch, side, side, cout), np.float32))
    calls = programs(x, kernel, g)
    same = bool(jnp.all(calls["kernel_gradient_xla"]() == calls["kernel_gradient_ours"]()))
    ms = {**time_alternately(calls, args.repeats, args.calls),
          **time_alternately(torch_programs(x, kernel, g), args.repeats, args.calls)}
    emit({"benchmark": "conv_gradients", "layer": where, "batch": args.batch, "side": side, "in": cin,
          "out": cout, "kernel_gradients_identical": same, "ms": ms})


if __name__ == "__main__":
  main()
