"""Batches per second and memory of the training input pipeline alone (`train_batches`, no model).

  python benchmarks/data_pipeline.py --stage 1 --batch 16 --patch 48 --num-workers 0 2
  python benchmarks/data_pipeline.py --train-dir /data/DIV2K_train_HR --num-workers 2

The stage's config (scale drawn in [scale_min, scale_max] per batch, as in training) on the built-in
scikit-image photographs, or on --train-dir (one folder or several, comma-separated, as
`data.train_dir`; decoded into the `data.cache` file in --cache-dir unless --no-cache). For each worker
count: seconds until the first batch (start-up, workers included), then the rate over the next
--batches batches, and the peak summed PSS of this process and its workers meanwhile (see
process_memory.py). A step never waits on data when this rate is above the step rate of
train_step.py (on a shared CPU the two compete for the same cores). `source_s` is the seconds the
source took to make (decoding into the cache file, or mapping it). Prints one JSON line.
"""
import argparse
import os
import time

from bench_common import emit
from process_memory import PeakWatcher
from liifusion_jax.config import load_config
from liifusion_jax.data.pipeline import train_batches
from liifusion_jax.train import loop


def measure(source, config, batch_size, num_workers, count):
  data = config.data
  start = time.perf_counter()
  batches = train_batches(source, seed=0, batch_size=batch_size,
                          num_steps=count + 1, patch=data.patch, scale_min=data.scale_min,
                          scale_max=data.scale_max, sample_q=data.sample_q,
                          sample_patch=data.sample_patch, augment=data.augment, bucket=data.bucket,
                          num_workers=num_workers)
  with PeakWatcher(os.getpid()) as memory:
    next(batches)
    first = time.perf_counter() - start
    start = time.perf_counter()
    received = sum(1 for _ in batches)
    seconds = time.perf_counter() - start
    batches.close()
  return {"num_workers": num_workers, "first_batch_s": round(first, 3),
          "batches_per_s": round(received / seconds, 3), "seconds_per_batch": round(seconds / received, 4),
          "peak_pss_mb": round(memory.peak_mb, 1)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--stage", type=int, choices=(1, 2), default=1)
  parser.add_argument("--batch", type=int, default=16)
  parser.add_argument("--patch", type=int, default=48)
  parser.add_argument("--num-workers", type=int, nargs="+", default=[0, 2])
  parser.add_argument("--batches", type=int, default=40, help="batches timed after the first")
  parser.add_argument("--train-dir", default="", help="image folder(s), comma-separated (data.train_dir)")
  parser.add_argument("--cache-dir", default="",
                      help="data.cache_dir (default ~/.cache/liifusion_jax/decoded)")
  parser.add_argument("--no-cache", action="store_true", help="decode the files on each access")
  args = parser.parse_args()

  config = load_config(f"configs/stage{args.stage}.py", lock=False)
  config.data.patch = args.patch
  config.data.sample_q = args.patch ** 2
  config.data.train_dir, config.data.cache_dir = args.train_dir, args.cache_dir
  config.data.cache = not args.no_cache
  start = time.perf_counter()
  source = loop._train_source(config.data)
  source_s = time.perf_counter() - start
  results = [measure(source, config, args.batch, n, args.batches) for n in args.num_workers]
  emit({"benchmark": "data_pipeline", "stage": args.stage, "batch": args.batch, "patch": args.patch,
        "scale_range": [config.data.scale_min, config.data.scale_max], "train_dir": args.train_dir,
        "cache": config.data.cache, "images": len(source), "source_s": round(source_s, 2),
        "results": results})


if __name__ == "__main__":
  main()
