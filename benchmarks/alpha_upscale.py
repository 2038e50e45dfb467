"""An alpha channel upscaled by bicubic or by the model as a grey image: PSNR of the alpha against HR's.

  python benchmarks/alpha_upscale.py --data ../shared/data/benchmark/Set5 --scale 4

Two alpha masks per HR image: "soft", its luma (a mask with the image's own detail), and "cutout", the
pixels above its median luma, edges anti-aliased by a 3x3 box (a cut-out object's matte). The mask's
LR is made as eval.py's benchmark protocol makes LR (MATLAB bicubic), then the LR image with that alpha
goes through `image_modes.upscale_image` with alpha="bicubic" and alpha="model" (the bundled stage 2,
seed i for image i); the PSNR of the output's 8-bit alpha, as a user gets it, against the HR mask, the
scale shaved from each border. Prints a table and JSON lines.
"""
import argparse
import json

import numpy as np
from scipy import ndimage

from liifusion_jax.evaluation import datasets, protocols
from liifusion_jax.evaluation.metrics import _Y_WEIGHTS
from liifusion_jax.inference.image_modes import ALPHA_METHODS, upscale_image
from liifusion_jax.inference.upscaler import Upscaler


def masks(hr01):
  """{name: (H, W) alpha in [0, 1]} of an HR image."""
  luma = hr01 @ _Y_WEIGHTS + 16 / 255
  cutout = ndimage.uniform_filter((luma > np.median(luma)).astype(np.float64), size=3)
  return {"soft": np.clip(luma, 0, 1), "cutout": cutout}


def psnr(a, b, shave):
  diff = (a - b)[shave:-shave, shave:-shave]
  return float(10 * np.log10(1 / np.mean(diff ** 2)))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--checkpoint", default="pretrained:stage2")
  parser.add_argument("--data", default="../shared/data/benchmark/Set5")
  parser.add_argument("--scale", type=int, default=4)
  args = parser.parse_args()
  upscaler = Upscaler.from_checkpoint(args.checkpoint)
  dataset = datasets.open_dataset(args.data)
  scores = {}
  for i in range(len(dataset)):
    lr, hr = datasets.lr_hr_pair(dataset, i, args.scale, "benchmark")
    for name, alpha_hr in masks(hr).items():
      alpha_lr = protocols.make_pair(np.repeat(alpha_hr[..., None], 3, -1).astype(np.float32), args.scale,
                                     "benchmark", i)[0][..., 0]
      rgba = np.dstack([lr, np.clip(alpha_lr, 0, 1)])
      for method in ALPHA_METHODS:
        out = upscale_image(lambda x, hw, progress=None: upscaler(x, hw, seed=i), rgba, hr.shape[:2], method)
        alpha8 = np.floor(out[..., 3].astype(np.float64) * 255 + 0.5) / 255
        scores.setdefault((name, method), []).append(psnr(alpha8, alpha_hr, args.scale))
  rows = [{"mask": name, "alpha": method, "scale": args.scale, "images": len(values),
           "alpha_psnr": float(np.mean(values))} for (name, method), values in scores.items()]
  print(f"{'mask':<8} {'alpha':<8} {'PSNR of alpha (dB)':>18}")
  for r in rows:
    print(f"{r['mask']:<8} {r['alpha']:<8} {r['alpha_psnr']:>18.2f}")
  for r in rows:
    print(json.dumps(r))


if __name__ == "__main__":
  main()
