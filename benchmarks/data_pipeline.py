"""Batches per second of the training input pipeline alone (`train_batches`, no model).

  python benchmarks/data_pipeline.py --stage 1 --batch 16 --patch 48 --num-workers 0 2

The stage's config (scale drawn in [scale_min, scale_max] per batch, as in training) on the built-in
scikit-image photographs. For each worker count: seconds until the first batch (start-up, workers
included) and then the rate over the next --batches batches. A step never waits on data when this rate
is above the step rate of train_step.py (on a shared CPU the two compete for the same cores).
Prints one JSON line with a result per worker count.
"""
import argparse
import time

from bench_common import emit
from liifusion_jax.config import load_config
from liifusion_jax.data import defaults
from liifusion_jax.data.pipeline import train_batches


def measure(config, batch_size, num_workers, count):
  data = config.data
  start = time.perf_counter()
  batches = train_batches(defaults.train_source(repeat=data.repeat), seed=0, batch_size=batch_size,
                          num_steps=count + 1, patch=data.patch, scale_min=data.scale_min,
                          scale_max=data.scale_max, sample_q=data.sample_q,
                          sample_patch=data.sample_patch, augment=data.augment, bucket=data.bucket,
                          num_workers=num_workers)
  next(batches)
  first = time.perf_counter() - start
  start = time.perf_counter()
  received = sum(1 for _ in batches)
  seconds = time.perf_counter() - start
  batches.close()
  return {"num_workers": num_workers, "first_batch_s": round(first, 3),
          "batches_per_s": round(received / seconds, 3), "seconds_per_batch": round(seconds / received, 4)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--stage", type=int, choices=(1, 2), default=1)
  parser.add_argument("--batch", type=int, default=16)
  parser.add_argument("--patch", type=int, default=48)
  parser.add_argument("--num-workers", type=int, nargs="+", default=[0, 2])
  parser.add_argument("--batches", type=int, default=40, help="batches timed after the first")
  args = parser.parse_args()

  config = load_config(f"configs/stage{args.stage}.py", lock=False)
  config.data.patch = args.patch
  config.data.sample_q = args.patch ** 2
  results = [measure(config, args.batch, n, args.batches) for n in args.num_workers]
  emit({"benchmark": "data_pipeline", "stage": args.stage, "batch": args.batch, "patch": args.patch,
        "scale_range": [config.data.scale_min, config.data.scale_max], "results": results})


if __name__ == "__main__":
  main()
