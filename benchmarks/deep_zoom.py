"""What a x30 deep-zoom view costs against the full x30 upscaling of the same image (the demo's two
ways to look at it), one per process so that each has its own peak memory:

  python benchmarks/deep_zoom.py --mode full --lr-size 96x128
  python benchmarks/deep_zoom.py --mode view --lr-size 96x128 --view 720x1280

`full`: `Upscaler` to x30 whole. `view`: the image encoded (`inference.region`) and the tiles of the
top level (x30) a `--view` screen (HxW) shows at the image's centre, as the deep-zoom view requests
them, each decoded alone. The bundled stage-2 model on scikit-image's astronaut at the LR size.
Prints one JSON line: seconds after a warm-up at x1 (the same programs; its compile seconds apart),
output megapixels decoded, peak resident memory.
"""
import argparse

import numpy as np
import skimage.data

from bench_common import block, compile_seconds, emit, parse_hw, time_calls
from liifusion_jax.demo import pyramid
from liifusion_jax.inference import region
from liifusion_jax.inference.upscaler import Upscaler
from liifusion_jax.resize.matlab_pil import resize_pil_bicubic


def view_tiles(top_hw, view_hw):
  """(col, row) of the top level's tiles that a view of `view_hw` at the image's centre shows."""
  rows, cols = [range(max(0, (n - v) // 2) // pyramid.TILE, -(-min(n, (n + v) // 2) // pyramid.TILE))
                for n, v in zip(top_hw, view_hw)]
  return [(c, r) for r in rows for c in cols]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--mode", choices=("full", "view"), required=True)
  parser.add_argument("--lr-size", type=parse_hw, default=(96, 128), help="HxW of the LR image")
  parser.add_argument("--view", type=parse_hw, default=(720, 1280), help="HxW of the screen's view")
  parser.add_argument("--repeats", type=int, default=1)
  args = parser.parse_args()
  lr = resize_pil_bicubic(skimage.data.astronaut().astype(np.float32) / 255.0, args.lr_size)
  upscaler = Upscaler.pretrained("stage2")
  top = pyramid.top_size(args.lr_size)
  level = pyramid.max_level(top)
  if args.mode == "full":
    run = lambda: block(upscaler(lr, top))
    pixels = top[0] * top[1]
  else:
    tiles = view_tiles(top, args.view)

    def run():
      encoded = region.encode(upscaler, lr)
      return [region.decode(upscaler, encoded, top, pyramid.tile_window(top, level, c, r)) for c, r in tiles]

    windows = [pyramid.tile_window(top, level, c, r) for c, r in tiles]
    pixels = sum((b - t) * (r - l) for (t, l), (b, r) in windows)
  start = compile_seconds()
  upscaler(lr, args.lr_size)  # the warm-up: the same programs (they do not depend on the output size)
  warmup_compile_s = compile_seconds() - start
  emit({"benchmark": "deep_zoom", "mode": args.mode, "lr_hw": list(args.lr_size), "out_hw": list(top),
        "view_hw": list(args.view) if args.mode == "view" else None, "decoded_mp": pixels / 1e6,
        **time_calls(run, args.repeats, warmup=0), "compile_s": warmup_compile_s})


if __name__ == "__main__":
  main()
