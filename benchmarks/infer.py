"""Seconds per image of arbitrary-scale upscaling with `Upscaler` (features once, queries in chunks).

  python benchmarks/infer.py --stage 2 --lr-size 128x128 --scale 4
  python benchmarks/infer.py --stage 2 --lr-size 68x45 --scale 30     # a DIV2K-sized x30 output
  python benchmarks/infer.py --stage 2 --lr-size 339x510 --scale 4 --precision bf16 --profile /tmp/trace

Random params (the speed does not depend on their values). The LR image is uniform noise, or with
`--image skimage` scikit-image's astronaut resized to the output size (HR) and downsampled to the LR
size; stage 1 takes that HR image for its prior, as in its evaluation. Prints one JSON line: median
seconds per image after the warm-up (compile seconds separate), output megapixels per second, the
encoder's share (`--breakdown`), peak resident memory (and device memory where jax reports it).
`--precision bf16` computes in bfloat16; `--profile DIR` traces a few more calls (profile_summary.py).
"""
import argparse

import jax
import jax.numpy as jnp
import numpy as np
import skimage.data

from bench_common import add_profile_flags, block, emit, parse_hw, profile, time_calls
from liifusion_jax.config import load_config
from liifusion_jax.inference.upscaler import DEFAULT_CHUNK, Upscaler
from liifusion_jax.models.factory import PRECISIONS, build_model
from liifusion_jax.resize.matlab_pil import resize_pil_bicubic


def random_params(stage, model_config, seed):
  """Freshly initialised params of a stage's network (tiny inputs: the shapes do not depend on them)."""
  model = build_model(stage, model_config)
  lr, coord, cell = jnp.zeros((1, 8, 8, 3)), jnp.zeros((1, 4, 2)), jnp.full((1, 4, 2), 0.1)
  rng = jax.random.PRNGKey(seed)
  if stage == "stage1":
    return model.init(rng, lr, jnp.zeros((1, 16, 16, 3)), coord, cell)["params"]
  return model.init(rng, lr, coord, cell, jnp.zeros((1, model.prior_dim)))["params"]


def test_images(kind, lr_hw, out_hw, seed):
  """(LR, HR) float32 images in [0, 1] of sizes lr_hw and out_hw."""
  if kind == "random":
    rng = np.random.default_rng(seed)
    return (rng.random((*lr_hw, 3), dtype=np.float32), rng.random((*out_hw, 3), dtype=np.float32))
  hr = resize_pil_bicubic(skimage.data.astronaut().astype(np.float32) / 255.0, out_hw)
  return resize_pil_bicubic(hr, lr_hw), hr


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--stage", type=int, choices=(1, 2), default=2)
  parser.add_argument("--lr-size", type=parse_hw, default=(128, 128), help="HxW of the LR image")
  parser.add_argument("--scale", type=float, default=4.0)
  parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="queries per decoder call")
  parser.add_argument("--image", choices=("random", "skimage"), default="random")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--warmup", type=int, default=1)
  parser.add_argument("--breakdown", action="store_true", help="also time the encoder alone")
  parser.add_argument("--precision", choices=tuple(PRECISIONS), default="float32")
  parser.add_argument("--seed", type=int, default=0)
  add_profile_flags(parser)
  args = parser.parse_args()

  stage = f"stage{args.stage}"
  config = load_config(f"configs/{stage}.py")
  out_hw = tuple(round(v * args.scale) for v in args.lr_size)
  lr, hr = test_images(args.image, args.lr_size, out_hw, args.seed)
  upscaler = Upscaler(stage, random_params(stage, config.model, args.seed), config.model, args.chunk,
                      precision=args.precision)
  hr01 = hr if stage == "stage1" else None

  upscale = lambda: upscaler(lr, out_hw, hr01=hr01, seed=args.seed)
  timing = time_calls(upscale, args.repeats, args.warmup)
  traced = profile(upscale, args)
  extra = {}
  if args.breakdown:
    encode = time_calls(lambda: block([feat for _, feat, _, _ in upscaler.features(lr, hr01, args.seed)]),
                        args.repeats, 0)
    extra = {"encode_median_s": encode["median_s"],
             "decode_median_s": timing["median_s"] - encode["median_s"]}
  megapixels = out_hw[0] * out_hw[1] / 1e6
  emit({"benchmark": "infer", "stage": args.stage, "precision": args.precision,
        "lr_size": list(args.lr_size), "scale": args.scale, "out_size": list(out_hw), "chunk": args.chunk, "image": args.image, "repeats": args.repeats,
        **timing, **extra, "output_megapixels_per_s": megapixels / timing["median_s"], **traced})


if __name__ == "__main__":
  main()
