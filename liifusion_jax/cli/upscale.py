"""Command line of upscale.py: a stage-2 checkpoint upscales an image (or a folder of them) to any size.

The output keeps the input's file format where Pillow can write it (else PNG) and its mode: grey,
alpha and 16-bit depth are kept where the output format holds them (`inference.image_modes`).
"""
import argparse
import os
import re
import sys

import numpy as np

from liifusion_jax import compilation_cache
from liifusion_jax.cli import flags, outputs
from liifusion_jax.cli.errors import USER_ERRORS, UsageError, user_errors
from liifusion_jax.cli.logs import quiet_logs
from liifusion_jax.data import images
from liifusion_jax.evaluation import protocols
from liifusion_jax.inference import small_images
from liifusion_jax.inference.image_modes import ALPHA_METHODS, upscale_image
from liifusion_jax.inference.tiled_upscale import WINDOW
from liifusion_jax.inference.upscaler import DEFAULT_CHUNK, Upscaler
from liifusion_jax.progress import Progress

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
      description="Upscale images with a stage-2 LIIFusion model (default: the bundled one).",
      epilog="Real-ESRGAN's spellings (-i IN -o OUT -s 4, --outscale, --suffix, --ext) and Thera's "
             "(IN OUT --scale 4) work too.")
  parser.add_argument("input_path", nargs="?", metavar="INPUT",
                      help="an image file, or a folder of images (or -i)")
  parser.add_argument("output_path", nargs="?", metavar="OUTPUT", help="the output (or -o)")
  parser.add_argument("-i", "--input", help="an image file, or a folder of images")
  parser.add_argument("-o", "--output", help="output file (its extension picks the format) or folder")
  parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                      help="a stage-2 run folder, its checkpoints/ folder, one step folder, an "
                           f"inference file (.npz) or a bundled model (default {DEFAULT_CHECKPOINT})")
  target = parser.add_mutually_exclusive_group(required=True)
  target.add_argument("-s", "--scale", "--outscale", dest="scale", type=flags.parse_scale,
                      help="scale factor >= 1, e.g. 3.7")
  target.add_argument("--size", type=parse_size, metavar="WxH", help="output size, e.g. 1920x1080")
  parser.add_argument("--compare", action="store_true",
                      help="write bicubic's upscaling (left) beside the model's (right) in one image")
  parser.add_argument("--suffix", default="",
                      help="output files in a folder are named NAME_SUFFIX.EXT (default: NAME.EXT)")
  parser.add_argument("--ext", default="auto", type=_extension,
                      help="output format in a folder: auto (the input's where Pillow can write it, "
                           "else png; default), or an extension such as png or jpg")
  parser.add_argument("--alpha", choices=ALPHA_METHODS, default="model",
                      help="how an alpha channel is upscaled: the model on it as a grey image (default; "
                           "twice the time, sharper edges) or bicubic")
  flags.add_model_flags(parser, DEFAULT_CHUNK)
  parser.add_argument("--tile", type=int, default=DEFAULT_TILE,
                      help=f"LR pixels per tile side, a multiple of {WINDOW} (default {DEFAULT_TILE}): "
                           f"larger images are encoded tile by tile with a halo, in bounded memory; "
                           f"0: whole images")
  flags.add_output_flags(parser)
  parser.add_argument("--skip-existing", action="store_true",
                      help="keep the outputs that exist already and upscale the others (a stopped "
                           "folder upscale goes on)")
  args = parser.parse_intermixed_args(argv)  # IN OUT may stand apart: IN --scale 4 OUT
  if args.tile and (args.tile < WINDOW or args.tile % WINDOW):
    parser.error(f"--tile must be 0 or a positive multiple of {WINDOW}, got {args.tile}")
  if args.skip_existing and args.overwrite:
    parser.error("--skip-existing keeps existing outputs and --overwrite replaces them: pass one")
  _input_and_output(parser, args)
  return args


def _extension(text):
  """--ext: "auto" (None), or an extension Pillow writes, without its dot."""
  ext = text.lower().lstrip(".")
  if ext == "auto":
    return None
  if not images.writable_format("x." + ext):
    raise argparse.ArgumentTypeError(f"Pillow cannot write .{ext} files")
  return ext


def _input_and_output(parser, args):
  """args.input and args.output from -i / -o, else from the positional INPUT [OUTPUT], in that order."""
  paths = [p for p in (args.input_path, args.output_path) if p is not None]
  for name in ("input", "output"):
    if getattr(args, name) is None:
      if not paths:
        parser.error(f"no {name} given: pass {name.upper()} or -{name[0]}/--{name}")
      setattr(args, name, paths.pop(0))
  if paths:
    parser.error(f"unrecognized argument {paths[0]} (the input is {args.input}, the output "
                 f"{args.output})")


def output_name(input_name, suffix="", ext=None):
  """NAME[_SUFFIX].EXT of an input's file name: its own extension where Pillow can write its format
  and `ext` is None, else `ext` (png where neither)."""
  stem, extension = os.path.splitext(input_name)
  if ext is not None:
    extension = "." + ext
  elif not images.writable_format(input_name):
    extension = ".png"
  return f"{stem}_{suffix}{extension}" if suffix else stem + extension


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
  """`upscale(image, (H, W), name, progress)` of the chosen model on a `images.native_array`, in its
  own mode (`image_modes`), with bicubic's (PIL-style, as an image viewer shows it) on its left under
  --compare."""
  upscaler = load_upscaler(args.checkpoint, args.chunk, args.tile, args.precision)

  def upscale(image, out_hw, name, progress):
    def model(lr, hw, progress=None):
      sr = upscaler(lr, hw, seed=args.seed, self_ensemble=args.self_ensemble, progress=progress)
      outputs.check_image_finite(sr, name)
      return sr
    sr = upscale_image(small_images.mirrored(model), image, out_hw, args.alpha, progress)
    if not args.compare:
      return sr
    return np.concatenate([upscale_image(_bicubic, image, out_hw, "bicubic"), sr], axis=1)
  return upscale


def _bicubic(lr, out_hw, progress=None):
  return protocols.bicubic_upscale(lr, out_hw, "div2k")


def aspect_note(name, in_hw, out_hw):
  """A note where the output's aspect ratio is not the input's (to a pixel), else None."""
  (h, w), (height, width) = in_hw, out_hw
  if abs(height - h * width / w) <= 1 or abs(width - w * height / h) <= 1:
    return None
  return (f"note: --size {width}x{height} changes the aspect ratio of {name} from {w / h:.2f} to "
          f"{width / height:.2f} (width x{width / w:.2f}, height x{height / h:.2f})")


def _read(src, args, say):
  """The input image (`images.read_native`) and its output size (both checked before any work; the
  pixel budget from the file's header, before decoding)."""
  outputs.check_pixels(args.size or output_size(images.image_size(src), args.scale), args.force)
  image = images.read_native(src)
  out_hw = output_size(image.shape[:2], args.scale, args.size)
  note = aspect_note(src, image.shape[:2], out_hw)
  if note:
    say(note)
  return image, out_hw


def _upscale_and_save(upscale, image, out_hw, src, dst, progress, say):
  dropped = images.save_image(dst, upscale(image, out_hw, src, progress))
  if dropped:
    say(f"note: {images.check_writable_format(dst)} cannot hold {' or '.join(dropped)}: {dst} is written "
        f"without (a .png keeps alpha and 16 bits)")


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
  name = lambda path: output_name(os.path.basename(path), args.suffix, args.ext)
  if not os.path.exists(src):
    raise FileNotFoundError(f"input {src} does not exist")
  if os.path.isdir(src):
    if os.path.isfile(dst):
      raise UsageError(f"the input is a folder, so the output must be a folder too, but {dst} is a file")
    if os.path.isdir(dst) and os.path.samefile(src, dst):
      raise UsageError("the output folder is the input folder: the images would be overwritten")
    return [(p, os.path.join(dst, name(p))) for p in images.list_images(src)], True
  if os.path.isdir(dst) or dst.endswith(os.sep):
    dst = os.path.join(dst, name(src))
  elif not os.path.splitext(dst)[1]:
    dst += os.path.splitext(name(src))[1]
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
      say = lambda line: print(line, file=sys.stderr)
      image, (h, w) = _read(src, args, say)  # a bad input fails before the checkpoint is loaded
      progress = Progress(f"upscaling {os.path.basename(src)}", "query chunks")
      _upscale_and_save(make_upscale(args), image, (h, w), src, dst, progress, say)
      print(f"wrote {dst} ({w}x{h}{', bicubic | model' if args.compare else ''})")
      return 0
    upscale = make_upscale(args)
    failed = []
    bar = Progress("upscaling", "images")
    for i, (src, dst) in enumerate(jobs):
      try:
        image, out_hw = _read(src, args, bar.write)
        _upscale_and_save(upscale, image, out_hw, src, dst,
                          lambda done, total: bar(i + done / total, len(jobs)), bar.write)
      except USER_ERRORS as error:  # one bad file does not stop the others
        bar.write(f"warning: {' '.join(str(error).split())}")
        failed.append(src)
      bar(i + 1, len(jobs))
    print(f"wrote {len(jobs) - len(failed)} images to {args.output}")
    if failed:
      raise UsageError(f"{len(failed)} of {len(jobs)} images failed (see the warnings above)")
  return 0
