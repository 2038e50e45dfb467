"""Command line of eval.py: PSNR (and LPIPS) of a checkpoint, or of bicubic, per data set and scale.

As the reference's test.py: one image at a time, PSNR and LPIPS averaged over images, LPIPS (AlexNet,
v0.1) on the whole [-1, 1] images; features once, queries in fixed-size chunks (`Upscaler`). Stage-1
checkpoints get the HR prior (the paper's stage-1 tables); stage-2 checkpoints sample it, image i of a
data set from noise seeded with `--seed + i`. Each row reports the mean seconds per image of the
upscaling alone (compilation included where an image needs a canvas side not seen before) and the peak
host (and, where the backend says, device) memory of the process so far. Images of every size go
through a few canvas sides (`Upscaler`, `canvas`), so the programs compiled are bounded.
"""
import json
import os
import sys
import time

import numpy as np

from liifusion_jax import compilation_cache, xla_options
from liifusion_jax.checkpoints.inference_file import PRETRAINED
from liifusion_jax.cli import flags, outputs, resources
from liifusion_jax.cli.errors import UsageError, user_errors
from liifusion_jax.cli.flags import scale_name
from liifusion_jax.cli.logs import quiet_logs
from liifusion_jax.data.images import normalise, save_image
from liifusion_jax.files import written_whole
from liifusion_jax.losses.lpips import load_lpips_params, lpips
from liifusion_jax.evaluation import datasets, paper_tables, protocols
from liifusion_jax.inference import canvas
from liifusion_jax.inference.upscaler import DEFAULT_CHUNK, Upscaler
from liifusion_jax.progress import Progress


_COLUMNS = (("dataset", 12), ("scale", 6), ("LR", 9), ("images", 7), ("skipped", 8), ("PSNR", 8),
            ("LPIPS", 7), ("bicubic", 8), ("bic.LPIPS", 10), ("s/image", 8), ("host MiB", 9),
            ("device MiB", 10))


def parse_args(argv):
  parser = flags.ArgumentParser(
      description="Evaluate a LIIFusion checkpoint (or bicubic) at arbitrary scales.")
  parser.add_argument("--checkpoint",
                      help="a run folder, its checkpoints/ folder, one step folder, an inference file "
                           "(.npz) or a bundled model: pretrained:stage1, pretrained:stage2 (default; "
                           "with --table, the bundled model of the table's stage)")
  parser.add_argument("--scales", type=flags.parse_scales, default=[2.0, 3.0, 4.0],
                      help="comma-separated scale factors >= 1, e.g. 2,3,4,12,30 or 5.3,10.7 (default 2,3,4)")
  parser.add_argument("--data", nargs="+", action="extend", metavar="PATH",
                      help="folders of HR images (or HR/ + LR_bicubic/X{s}/), or image files; several "
                           "allowed (default: the embedded photographs)")
  parser.add_argument("--protocol", choices=protocols.PROTOCOLS, default="benchmark",
                      help="benchmark: MATLAB-bicubic LR, Y PSNR; div2k: PIL-bicubic LR, RGB PSNR "
                           "with 6 more pixels shaved (default benchmark)")
  parser.add_argument("--method", choices=("model", "bicubic"), default="model",
                      help="the checkpoint, or the protocol's bicubic upscaling (needs no checkpoint)")
  parser.add_argument("--lpips", action="store_true",
                      help="also report LPIPS for stage-1 models and bicubic (always on for stage 2)")
  flags.add_model_flags(parser, DEFAULT_CHUNK)
  parser.add_argument("--table", type=int, choices=sorted(paper_tables.TABLES),
                      help="run a paper table's protocol, data sets and scales (with --data-root), the "
                           "checkpoint and bicubic, and print the paper's figures beside ours")
  parser.add_argument("--data-root", metavar="DIR",
                      help="with --table: the reference's load/ layout (benchmark/Set5, "
                           "div2k/DIV2K_valid_HR, celeba_hq, ...)")
  parser.add_argument("--json", metavar="OUT.json", help="write the results here")
  parser.add_argument("--save-images", metavar="DIR", help="write the SR images as DIR/<dataset>/x<s>/*.png")
  flags.add_output_flags(parser)
  args = parser.parse_args(argv)
  if args.table is not None and not args.data_root:
    parser.error("--table needs --data-root")
  if args.table is not None and args.data:
    parser.error("--table takes its data sets from --data-root, not --data")
  if args.checkpoint is None:
    stage = paper_tables.TABLES[args.table].stage if args.table is not None else "stage2"
    args.checkpoint = PRETRAINED + stage
  return args


def _load_method(args, method=None):
  """(upscale(lr01, hr01, seed, progress=None) -> sr01, stage or None) of `method` (default
  `args.method`); `progress` as `Upscaler`'s."""
  if (method or args.method) == "bicubic":
    return (lambda lr, hr, seed, progress=None: protocols.bicubic_upscale(lr, hr.shape[:2], args.protocol)), None
  upscaler = Upscaler.from_checkpoint(args.checkpoint, args.chunk, precision=args.precision)
  ensemble = args.self_ensemble
  print(f"model: {args.checkpoint} ({upscaler.stage}, {args.precision}"
        f"{f', self-ensemble of {ensemble}' if ensemble else ''})", flush=True)
  if upscaler.stage == "stage1":
    return (lambda lr, hr, seed, progress=None: upscaler(lr, hr.shape[:2], hr01=hr, self_ensemble=ensemble,
                                                         progress=progress)), "stage1"
  return (lambda lr, hr, seed, progress=None: upscaler(lr, hr.shape[:2], seed=seed, self_ensemble=ensemble,
                                                       progress=progress)), "stage2"


def _lpips_fn():
  """LPIPS (AlexNet) of two [0, 1] images, on [-1, 1] as the reference's test.py. The images go on a
  canvas of a bucketed side with their true size (`lpips`'s size): one program per canvas side."""
  params = load_lpips_params("alex")
  distance = xla_options.jit(lambda x, y, size: lpips(params, x, y, size)[0])

  def on_canvas(sr, hr):
    side = canvas.side(max(hr.shape[:2]))
    x, y = (canvas.crop(normalise(image[None]), (0, 0), side) for image in (sr, hr))
    return float(distance(x, y, np.asarray(hr.shape[:2], np.int32)))
  return on_canvas


def _open_datasets(paths):
  if not paths:
    return [datasets.default_dataset()]
  data_sets = [datasets.open_dataset(p) for p in paths]
  seen = {}
  for d in data_sets:  # two folders of the same name (a/Set5, b/Set5) stay apart in the table
    seen[d.name] = seen.get(d.name, 0) + 1
    if seen[d.name] > 1:
      d.name = f"{d.name}-{seen[d.name]}"
  return data_sets


def evaluate(dataset, scale, args, upscale, lpips_fn, baseline=None):
  """One row of the results: the means over the images of `dataset` at `scale`, and those of
  `baseline` (bicubic beside a model) where given."""
  psnrs, lpipses, seconds, skipped = [], [], [], 0
  base_psnrs, base_lpipses = [], []
  progress = Progress(f"{dataset.name} {scale_name(scale)}", "images")
  for i in range(len(dataset)):
    progress(i, len(dataset))
    outputs.check_pixels(dataset.hr_size(i), args.force)  # from the header, before decoding
    try:
      lr, hr = datasets.lr_hr_pair(dataset, i, scale, args.protocol)
    except datasets.TooSmall as reason:
      progress.write(f"warning: skipped {reason}")
      skipped += 1
      continue
    start = time.perf_counter()
    sr = upscale(lr, hr, args.seed + i, lambda done, total: progress(i + done / total, len(dataset)))
    seconds.append(time.perf_counter() - start)
    outputs.check_image_finite(sr, f"{dataset.name}/{dataset.names[i]}")
    psnrs.append(protocols.score(sr, hr, scale, args.protocol))
    if lpips_fn is not None:
      lpipses.append(lpips_fn(sr, hr))
    if baseline is not None:
      base = baseline(lr, hr, args.seed + i)
      base_psnrs.append(protocols.score(base, hr, scale, args.protocol))
      if lpips_fn is not None:
        base_lpipses.append(lpips_fn(base, hr))
    if args.save_images:
      save_image(_image_path(args.save_images, dataset, scale, i), sr)
  progress(len(dataset), len(dataset))
  mean = lambda values: float(np.mean(values)) if values else None
  return {
      "dataset": dataset.name, "scale": scale, "psnr": mean(psnrs), "lpips": mean(lpipses),
      "bicubic_psnr": mean(base_psnrs), "bicubic_lpips": mean(base_lpipses),
      "images": len(psnrs), "skipped": skipped, "seconds": mean(seconds),
      "lr": "provided" if dataset.provided_lr_dir(scale) else "made",
      "peak_host_mib": round(resources.peak_host_mb(), 1),
      "peak_device_mib": _round(resources.peak_device_mb()),
  }


def _image_path(folder, dataset, scale, index):
  stem = os.path.splitext(dataset.names[index])[0]
  return os.path.join(folder, dataset.name, scale_name(scale), stem + ".png")


def _check_outputs(args, data_sets, data_paths):
  """The outputs (the JSON report, the saved images), checked before any work (`check_outputs`)."""
  paths = [args.json] if args.json else []
  if args.save_images:
    paths += [_image_path(args.save_images, d, s, i) for d in data_sets for s in args.scales
              for i in range(len(d))]
  outputs.check_outputs(paths, outputs.input_files(data_paths), args.overwrite)


def _round(value, digits=1):
  return None if value is None else round(value, digits)


def _format_row(row):
  cells = (row["dataset"], scale_name(row["scale"]), row["lr"], row["images"], row["skipped"],
           "-" if row["psnr"] is None else f"{row['psnr']:.2f}",
           "-" if row["lpips"] is None else f"{row['lpips']:.4f}",
           "-" if row["bicubic_psnr"] is None else f"{row['bicubic_psnr']:.2f}",
           "-" if row["bicubic_lpips"] is None else f"{row['bicubic_lpips']:.4f}",
           "-" if row["seconds"] is None else f"{row['seconds']:.3f}",
           f"{row['peak_host_mib']:.0f}",
           "-" if row["peak_device_mib"] is None else f"{row['peak_device_mib']:.0f}")
  return "  ".join(str(c).ljust(w) for c, (_, w) in zip(cells, _COLUMNS)).rstrip()


def _write_json(path, report):
  with written_whole(path, "w") as f:
    json.dump(report, f, indent=2)


def run_table(args):
  """`--table N`: the table's rows for the checkpoint (if given) and bicubic, then both beside the
  paper's figures."""
  table = paper_tables.TABLES[args.table]
  args.scales, args.protocol = list(table.scales), table.protocol
  data_sets, paths = [], []
  for name, relative in table.datasets:
    path = os.path.join(args.data_root, relative)
    if not os.path.isdir(path):
      print(f"warning: {path} not found: table {args.table} goes on without {name}", file=sys.stderr)
      continue
    data_sets.append(datasets.open_dataset(path, table.first_k))
    data_sets[-1].name = name
    paths.append(path)
  if not data_sets:
    raise UsageError(f"none of table {args.table}'s data sets is under {args.data_root}")
  _check_outputs(args, data_sets, paths)
  methods = [("Bicubic", _load_method(args, "bicubic")[0])]
  if args.method == "model":
    upscale, stage = _load_method(args, "model")
    if stage != table.stage:
      raise UsageError(f"table {args.table} evaluates {table.stage} models; {args.checkpoint} "
                                  f"is a {stage} checkpoint")
    methods.insert(0, ("Ours", upscale))
  lpips_fn = _lpips_fn() if table.stage == "stage2" or args.lpips else None
  report = {"table": args.table, "checkpoint": args.checkpoint, "protocol": table.protocol,
            "seed": args.seed, "precision": args.precision, "self_ensemble": args.self_ensemble,
            "results": []}
  print("  ".join(name.ljust(w) for name, w in (("method", 9),) + _COLUMNS).rstrip(), flush=True)
  for method, upscale in methods:
    for dataset in data_sets:
      for scale in table.scales:
        row = {"method": method, **evaluate(dataset, scale, args, upscale, lpips_fn)}
        report["results"].append(row)
        print(method.ljust(9), _format_row(row), flush=True)
        if args.json:
          _write_json(args.json, report)
  print(f"\nTable {args.table}, ours beside the paper's (PSNR dB / LPIPS):")
  for line in _comparison(args.table, report["results"]):
    print(line)
  return 0


def _comparison(table, rows):
  """Lines of `dataset scale  method ours  paper` for every row, the paper's figure or '-'."""
  fmt = lambda pair: "-" if pair is None or pair[0] is None else (
      f"{pair[0]:.2f}" + ("" if pair[1] is None else f" / {pair[1]:.4f}"))
  yield "dataset        scale   method   ours              paper"
  for row in rows:
    ours = (row["psnr"], row["lpips"])
    paper = paper_tables.printed(table, row["method"], row["dataset"], row["scale"])
    yield (f"{row['dataset']:<14} {scale_name(row['scale']):<7} {row['method']:<8} {fmt(ours):<17} "
           f"{fmt(paper)}").rstrip()


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  with user_errors():
    quiet_logs()
    compilation_cache.enable()
    if args.table is not None:
      return run_table(args)
    data_sets = _open_datasets(args.data)
    _check_outputs(args, data_sets, args.data or [])
    upscale, stage = _load_method(args)
    baseline = _load_method(args, "bicubic")[0] if stage else None  # bicubic beside a model
    lpips_fn = _lpips_fn() if stage == "stage2" or args.lpips else None
    report = {"method": args.method, "checkpoint": args.checkpoint if stage else None, "stage": stage,
              "protocol": args.protocol, "seed": args.seed, "precision": args.precision,
              "self_ensemble": args.self_ensemble if stage else None, "results": []}
    print("  ".join(name.ljust(w) for name, w in _COLUMNS).rstrip(), flush=True)
    for dataset in data_sets:
      for scale in args.scales:
        row = evaluate(dataset, scale, args, upscale, lpips_fn, baseline)
        report["results"].append(row)
        print(_format_row(row), flush=True)
        if args.json:
          _write_json(args.json, report)
  return 0
