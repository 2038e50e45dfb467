"""Where a stage-1 step's time goes: each network piece alone, forward and forward + backward.

  python benchmarks/pieces.py --batch 4 --patch 48 --scale 2.5

Pieces: `features` (EDSR encoder on the LR patch), `prior` (prior encoder on the masked HR canvas),
`inject` (window cross-attention injector), `decode` (conditional LIIF at the sampled queries), and
`whole` (the full stage-1 loss). Each is jitted on its own with the batch of train_step.py; `grad`
times value_and_grad of the sum of the piece's output w.r.t. all params (what a training step pays).
Prints one JSON line with the median wall and process-CPU seconds of each.
"""
import argparse

import jax
import jax.numpy as jnp

from bench_common import block, emit, time_calls
from liifusion_jax import xla_options
from liifusion_jax.config import load_config
from liifusion_jax.data.images import normalise
from liifusion_jax.models.factory import build_model
from liifusion_jax.train import stage1 as stage1_task
from liifusion_jax.train.batch_inputs import prior_of_batch
from liifusion_jax.train.task import build_task
from train_step import benchmark_batch


def pieces(model, params, batch):
  """name -> (fn(params, inputs) -> array, inputs), each input computed once beforehand."""
  lr = normalise(batch["inp"])
  prior_in, prior_mask = prior_of_batch(batch)

  def apply(method):
    return lambda p, *x: model.apply({"params": p}, *x, method=method)

  feat = xla_options.jit(apply(lambda m, x: m.features(x)))(params, lr)
  z = xla_options.jit(apply(lambda m, x, mask: m.prior(x, mask)))(params, prior_in, prior_mask)
  injected = xla_options.jit(apply(lambda m, f, z: m.inject(f, z)))(params, feat, z)
  return {
      "features": (apply(lambda m, x: m.features(x)), (lr,)),
      "prior": (apply(lambda m, x, mask: m.prior(x, mask)), (prior_in, prior_mask)),
      "inject": (apply(lambda m, f, z: m.inject(f, z)), (feat, z)),
      "decode": (apply(lambda m, f, c, s: m.decode(f, c, s)), (injected, batch["coord"], batch["cell"])),
      "whole": (apply(stage1_task._forward), (batch,)),
  }


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--batch", type=int, default=4)
  parser.add_argument("--patch", type=int, default=48)
  parser.add_argument("--scale", type=float, default=2.5)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--only", nargs="*", default=None, help="piece names to time (default: all)")
  args = parser.parse_args()

  config = load_config("configs/stage1.py", lock=False)
  config.data.patch = args.patch
  batch = benchmark_batch(config, args.batch, args.scale, seed=0)
  model = build_model("stage1", config.model)
  params = build_task(config, steps_per_epoch=1).init_state(jax.random.PRNGKey(0), batch).params
  results = {}
  for name, (fn, inputs) in pieces(model, params, batch).items():
    if args.only and name not in args.only:
      continue
    forward = xla_options.jit(fn)
    grad = xla_options.jit(jax.value_and_grad(lambda p, *x: jnp.sum(fn(p, *x))))
    for kind, f in (("forward", forward), ("grad", grad)):
      timing = time_calls(lambda: block(f(params, *inputs)), args.repeats)
      results[f"{name}_{kind}_s"] = timing["median_s"]
      results[f"{name}_{kind}_cpu_s"] = timing["cpu_median_s"]
  emit({"benchmark": "pieces", "batch": args.batch, "patch": args.patch, "scale": args.scale,
        **results})


if __name__ == "__main__":
  main()
