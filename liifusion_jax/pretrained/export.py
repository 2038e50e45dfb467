"""`python -m liifusion_jax.pretrained.export RUN OUT.npz`: a run's latest checkpoint as an inference file.

The file keeps the generator params (16-bit), the stage, the run's config and its provenance: the
training data, the step reached, the seconds the training steps took (from `metrics.jsonl`), the
device and, where given, the commit and the wall-clock seconds of the whole recipe.
"""
import argparse
import datetime
import json
import pathlib
import sys

import jax

from liifusion_jax.cli.errors import user_errors
from liifusion_jax.cli.logs import quiet_logs
from liifusion_jax.cli.outputs import check_outputs
from liifusion_jax.checkpoints.inference_file import save_inference_file
from liifusion_jax.checkpoints.run import load_params, locate
from liifusion_jax.data.image_folder import split_folders
from liifusion_jax.train.metrics_log import read_rows


def step_seconds(metrics_path):
  """Seconds spent in training steps: each logged window's seconds per step times its steps."""
  total, previous = 0.0, 0
  if not metrics_path.is_file():
    return None
  for row in read_rows(metrics_path):
    if "sec_per_step" in row:
      total += row["sec_per_step"] * max(row["step"] - previous, 0)  # replayed steps count once
      previous = row["step"]
  return round(total, 1)


def training_data(data):
  """A description of the images a run trained on."""
  folders = split_folders(data["train_dir"]) if data.get("train_dir") else []
  parts = [pathlib.Path(folder).name for folder in folders]
  if data.get("builtin_photos") or not parts:
    parts.append("scikit-image's built-in photographs")
  return " + ".join(parts)


def provenance(run, step, config, commit=None, wall_seconds=None):
  """Where a model comes from: data, steps, seconds, device, commit, date."""
  record = {
      "data": training_data(config.get("data", {})),
      "steps": step,
      "batch_size": config.get("batch_size"),
      "step_seconds": step_seconds(pathlib.Path(run) / "metrics.jsonl"),
      "device": jax.devices()[0].device_kind,
      "date": datetime.date.today().isoformat(),
  }
  if commit:
    record["commit"] = commit
  if wall_seconds is not None:
    record["wall_seconds"] = wall_seconds
  return record


def main(argv=None):
  parser = argparse.ArgumentParser(prog="python -m liifusion_jax.pretrained.export", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("run", help="a run folder (its latest checkpoint is exported)")
  parser.add_argument("out", help="the inference file to write (.npz)")
  parser.add_argument("--recipe", help="the config the run used, e.g. configs/pretrained.py:stage1")
  parser.add_argument("--commit", help="the code's commit, recorded as provenance")
  parser.add_argument("--wall-seconds", type=float, help="the recipe's wall-clock seconds, recorded")
  parser.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                      help="storage precision of the params (default float16: half the size)")
  parser.add_argument("--overwrite", action="store_true", help="replace OUT where it exists already")
  args = parser.parse_args(argv)
  quiet_logs()
  if not args.out.endswith(".npz"):
    parser.error("the inference file must end in .npz")
  with user_errors():
    check_outputs([args.out], {}, args.overwrite)
    _, step = locate(args.run)
    params, meta = load_params(args.run)
    config = meta.get("config", {})
    record = provenance(args.run, step, config, args.commit, args.wall_seconds)
    if args.recipe:
      record["recipe"] = args.recipe
    save_inference_file(args.out, params, {"stage": meta["stage"], "config": config,
                                           "provenance": record}, dtype=args.dtype)
  print(f"wrote {args.out}: {meta['stage']} at step {step}, {json.dumps(record)}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
