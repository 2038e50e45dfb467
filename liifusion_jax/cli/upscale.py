"""Command line of upscale.py: a stage-2 checkpoint upscales an image (or a folder of them) to any size.

The output keeps the input's file format where Pillow can write it (else PNG), in 8 bits per channel.
"""
import argparse
import os
import re
import sys

import numpy as np
from tqdm import tqdm

from liifusion_jax import compilation_cache
from liifusion_jax.cli import flags, outputs
from liifusion_jax.cli.errors import USER_ERRORS, UsageError, user_errors
from liifusion_jax.cli.logs import quiet_logs
from liifusion_jax.data import images
from liifusion_jax.evaluation import protocols
from liifusion_jax.inference import small_images
from liifusion_jax.inference.tiled_upscale import WINDOW
from liifusion_jax.inference.upscaler import DEFAULT_CHUNK, Upscaler

DEFAULT_CHECKPOINT = "pretrained:stage2"
DEFAULT_TILE = 384  # canvases of 544 pixels a side: ~2.8 GB peak host memory on CPU, whatever the image size


def parse_size(text):
  """WIDTHxHEIGHT ("1920x1080") -> (height, width)."""
  match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
  if not match or min(int(match[1]), int(match[2])) < 1:
    raise argparse.ArgumentTypeError(f"invalid size {text!r}: expected WIDTHxHEIGHT, e.g. 1920x1080")
  return int(match[2]), int(match[1])


def parse_args(argv):
  parser = flags.ArgumentParser(
      description="Upscale images with a stage-2 LIIFusion model (default: the bundled one).")
  parser.add_argument("input", help="an image file, or a folder of images")
  parser.add_argument("-o", "--output", required=True,
                      help="output file (its extension picks the format) or folder")
  parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                      help="a stage-2 run folder, its checkpoints/ folder, one step folder, an "
                           f"inference file (.npz) or a bundled model (default {DEFAULT_CHECKPOINT})")
  target = parser.add_mutually_exclusive_group(required=True)
  target.add_argument("--scale", type=flags.parse_scale, help="scale factor >= 1, e.g. 3.7")
  target.add_argument("--size", type=parse_size, metavar="WxH", help="output size, e.g. 1920x1080")
  parser.add_argument("--compare", action="store_true",
                      help="write bicubic's upscaling (left) beside the model's (right) in one image")
  flags.add_model_flags(parser, DEFAULT_CHUNK)
  parser.add_argument("--tile", type=int, default=DEFAULT_TILE,
                      help=f"LR pixels per tile side, a multiple of {WINDOW} (default {DEFAULT_TILE}): "
                           f"larger images are encoded tile by tile with a halo, in bounded memory; "
                           f"0: whole images")
  flags.add_output_flags(parser)
  parser.add_argument("--skip-existing", action="store_true",
                      help="keep the outputs that exist already and upscale the others (a stopped "
                           "folder upscale goes on)")
  args = parser.parse_args(argv)
  if args.tile and (args.tile < WINDOW or args.tile % WINDOW):
    parser.error(f"--tile must be 0 or a positive multiple of {WINDOW}, got {args.tile}")
  if args.skip_existing and args.overwrite:
    parser.error("--skip-existing keeps existing outputs and --overwrite replaces them: pass one")
  return args


def output_name(input_name):
  """The input's file name where Pillow can write its format, else the same name as PNG."""
  if images.writable_format(input_name):
    return input_name
  return os.path.splitext(input_name)[0] + ".png"


def output_size(in_hw, scale=None, size=None):
  """(H, W) of the output: round(side * scale), or `size`, which may not be smaller than the input."""
  h, w = in_hw
  if scale is not None:
    return max(1, round(h * scale)), max(1, round(w * scale))
  if size[0] < h or size[1] < w:
    raise UsageError(f"size {size[1]}x{size[0]} is smaller than the input ({w}x{h}): only upscaling "
                     f"is supported")
  return size


def load_upscaler(path, chunk=None, tile=DEFAULT_TILE, precision="float32"):
  """`upscale(lr01, (H, W), seed)` of a stage-2 checkpoint, tiled where `tile` (LR pixels) is nonzero.

  A stage-1 checkpoint is refused: its prior needs the HR image.
  """
  upscaler = Upscaler.from_checkpoint(path, chunk, tile=tile or None, precision=precision)
  if upscaler.stage != "stage2":
    raise UsageError(f"{path} is a {upscaler.stage} checkpoint: its prior is computed from the HR "
                     f"image, so it cannot upscale images without one; use a stage-2 checkpoint")
  return upscaler


def make_upscale(args):
  """`upscale(lr01, (H, W))` of the chosen model, with bicubic's (PIL-style, as an image viewer
  shows it) on its left under --compare."""
  upscaler = load_upscaler(args.checkpoint, args.chunk, args.tile, args.precision)
  model = small_images.mirrored(
      lambda lr, out_hw: upscaler(lr, out_hw, seed=args.seed, self_ensemble=args.self_ensemble))
  if not args.compare:
    return model
  return lambda lr, out_hw: np.concatenate([protocols.bicubic_upscale(lr, out_hw, "div2k"), model(lr, out_hw)],
                                           axis=1)


def _read(src, args):
  """The input image and its output size (both checked before any work; the pixel budget from the
  file's header, before decoding)."""
  outputs.check_pixels(args.size or output_size(images.image_size(src), args.scale), args.force)
  lr = images.load_image(src)
  return lr, output_size(lr.shape[:2], args.scale, args.size)


def _upscale_and_save(upscale, lr, out_hw, src, dst):
  sr = upscale(lr, out_hw)
  outputs.check_image_finite(sr, src)
  images.save_image(dst, sr)


def _jobs(args):
  """[(input path, output path)] and whether the input is a folder; every output checked before any
  work (`check_outputs`)."""
  jobs, folder = _planned_jobs(args)
  if args.skip_existing:
    kept = [dst for _, dst in jobs if os.path.isfile(dst)]
    if kept:
      print(f"keeping {len(kept)} existing output(s): {', '.join(os.path.basename(p) for p in kept)}")
    jobs = [(src, dst) for src, dst in jobs if dst not in kept]
  outputs.check_outputs([dst for _, dst in jobs], outputs.input_files([args.input]), args.overwrite)
  return jobs, folder


def _planned_jobs(args):
  src, dst = args.input, args.output
  if not os.path.exists(src):
    raise FileNotFoundError(f"input {src} does not exist")
  if os.path.isdir(src):
    if os.path.isfile(dst):
      raise UsageError(f"the input is a folder, so the output must be a folder too, but {dst} is a file")
    if os.path.isdir(dst) and os.path.samefile(src, dst):
      raise UsageError("the output folder is the input folder: the images would be overwritten")
    return [(p, os.path.join(dst, output_name(os.path.basename(p)))) for p in images.list_images(src)], True
  if os.path.isdir(dst) or dst.endswith(os.sep):
    dst = os.path.join(dst, output_name(os.path.basename(src)))
  elif not os.path.splitext(dst)[1]:
    dst += os.path.splitext(output_name(os.path.basename(src)))[1]
  images.check_writable_format(dst)
  return [(src, dst)], False


# What Ctrl-C and SIGTERM print: the images written are whole, the one in progress is not left.
INTERRUPTED = "interrupted: the images written so far are kept; rerun with --skip-existing to go on"


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  with user_errors(interrupted=INTERRUPTED):
    quiet_logs()
    compilation_cache.enable()
    jobs, folder = _jobs(args)
    if not jobs:  # --skip-existing: all there
      return 0
    if not folder:
      (src, dst), = jobs
      lr, (h, w) = _read(src, args)  # a bad input fails before the checkpoint is loaded
      _upscale_and_save(make_upscale(args), lr, (h, w), src, dst)
      print(f"wrote {dst} ({w}x{h}{', bicubic | model' if args.compare else ''})")
      return 0
    upscale = make_upscale(args)
    failed = []
    for src, dst in tqdm(jobs, desc="upscaling", unit="image", disable=None):
      try:
        lr, out_hw = _read(src, args)
        _upscale_and_save(upscale, lr, out_hw, src, dst)
      except USER_ERRORS as error:  # one bad file does not stop the others
        tqdm.write(f"warning: {' '.join(str(error).split())}", file=sys.stderr)
        failed.append(src)
    print(f"wrote {len(jobs) - len(failed)} images to {args.output}")
    if failed:
      raise UsageError(f"{len(failed)} of {len(jobs)} images failed (see the warnings above)")
  return 0
