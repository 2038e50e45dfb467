"""Cheaper self-ensembles than the 8 flips and turns: the LR-grid pattern they leave, PSNR, LPIPS, time.

  python benchmarks/ensemble_grid.py --data ../shared/data/benchmark/Set5 --scales 4,8

The model (default the bundled stage 2; image i with seed i, as eval.py) upscales each image under each
of the 8 transforms once (an untimed identity upscaling first compiles its canvases); every ensemble's
output is the mean of its members' outputs, its time the sum of theirs (wall and process CPU seconds:
on a shared machine the CPU seconds say more). PSNR is eval.py's benchmark protocol (Y, scale shaved),
LPIPS AlexNet on the whole image.

Grid index: the LR-pixel-periodic part of an image, in 8-bit levels of its Y channel: the residual of Y
after a box filter of the scale's side (which averages out any pattern of that period), averaged over
the pixels of each of the s x s phases (row mod s, column mod s); the standard deviation of those s^2
means. A photograph (HR) or bicubic has next to none; a model that draws a grid at the LR pixel period
has some. Integer scales only. Prints one table row per scale and ensemble, and the rows as JSON lines.
"""
import argparse
import json
import sys
import time

import numpy as np
from scipy import ndimage

from liifusion_jax.cli.eval import _lpips_fn
from liifusion_jax.evaluation import datasets, protocols
from liifusion_jax.evaluation.metrics import _Y_WEIGHTS
from liifusion_jax.inference import self_ensemble
from liifusion_jax.inference.upscaler import Upscaler

ENSEMBLES = {
    "none (1)": self_ensemble.TRANSFORMS[:1],
    "half turn (2)": ((0, False), (2, False)),
    "left-right flip (2)": ((0, False), (0, True)),
    "quarter turn (2)": ((0, False), (1, False)),
    "transpose (2)": ((0, False), (1, True)),
    "quarter turns (4)": tuple((turns, False) for turns in range(4)),
    "flips (4)": ((0, False), (0, True), (2, True), (2, False)),
    "all 8": self_ensemble.TRANSFORMS,
}


def grid_index(image01, scale):
  """Standard deviation over the scale x scale phases of the mean high-pass residual of Y (8-bit levels)."""
  y = image01 @ _Y_WEIGHTS * 255.0
  residual = y - ndimage.uniform_filter(y, size=scale, mode="reflect")
  h, w = (side // scale * scale for side in y.shape)
  phases = residual[:h, :w].reshape(h // scale, scale, w // scale, scale).mean(axis=(0, 2))
  return float(phases.std())


def transformed_upscalings(upscaler, lr, out_hw, seed):
  """{transform: (output turned back, wall s, CPU s)} for the 8 transforms."""
  upscaler(lr, out_hw, seed=seed)  # compiles this size's canvases (the transforms reuse them)
  results = {}
  for transform in self_ensemble.TRANSFORMS:
    moved = np.ascontiguousarray(self_ensemble.apply(lr, transform))
    wall, cpu = time.perf_counter(), time.process_time()
    out = upscaler(moved, self_ensemble.size(out_hw, transform), seed=seed)
    results[transform] = (self_ensemble.invert(out, transform), time.perf_counter() - wall,
                          time.process_time() - cpu)
  return results


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--checkpoint", default="pretrained:stage2")
  parser.add_argument("--data", default="../shared/data/benchmark/Set5")
  parser.add_argument("--scales", default="4,8", help="integer scales, comma-separated")
  parser.add_argument("--first-k", type=int, default=None, help="only the first k images")
  args = parser.parse_args()
  upscaler = Upscaler.from_checkpoint(args.checkpoint)
  dataset = datasets.open_dataset(args.data, args.first_k)
  lpips = _lpips_fn()
  rows = []
  for scale in (int(s) for s in args.scales.split(",")):
    scores = {name: [] for name in ("HR", "bicubic", *ENSEMBLES)}
    for i in range(len(dataset)):
      lr, hr = datasets.lr_hr_pair(dataset, i, scale, "benchmark")
      bicubic = protocols.bicubic_upscale(lr, hr.shape[:2], "benchmark")
      scores["HR"].append((grid_index(hr, scale), None, None, 0.0, 0.0))
      scores["bicubic"].append((grid_index(bicubic, scale), protocols.score(bicubic, hr, scale, "benchmark"),
                                lpips(bicubic, hr), 0.0, 0.0))
      outputs = transformed_upscalings(upscaler, lr, hr.shape[:2], seed=i)
      for name, members in ENSEMBLES.items():
        sr = np.mean([outputs[t][0] for t in members], axis=0)
        scores[name].append((grid_index(sr, scale), protocols.score(sr, hr, scale, "benchmark"), lpips(sr, hr),
                             sum(outputs[t][1] for t in members), sum(outputs[t][2] for t in members)))
      print(f"x{scale} {dataset.names[i]} done", file=sys.stderr, flush=True)
    for name, values in scores.items():
      grid, psnr, lpips_value, wall, cpu = zip(*values)
      mean = lambda xs: None if xs[0] is None else float(np.mean(xs))
      rows.append({"scale": scale, "ensemble": name, "images": len(values), "grid_index": mean(grid),
                   "psnr": mean(psnr), "lpips": mean(lpips_value), "wall_s": mean(wall), "cpu_s": mean(cpu)})
  fmt = lambda v, f: "-" if v is None else format(v, f)
  print(f"{'scale':<6} {'ensemble':<20} {'grid index':>10} {'PSNR':>7} {'LPIPS':>7} {'wall s/img':>10} "
        f"{'CPU s/img':>9}")
  for r in rows:
    print(f"x{r['scale']:<5} {r['ensemble']:<20} {fmt(r['grid_index'], '.3f'):>10} {fmt(r['psnr'], '.2f'):>7} "
          f"{fmt(r['lpips'], '.4f'):>7} {fmt(r['wall_s'], '.1f'):>10} {fmt(r['cpu_s'], '.1f'):>9}")
  for r in rows:
    print(json.dumps(r))


if __name__ == "__main__":
  main()
