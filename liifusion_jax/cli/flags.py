"""The command-line flags eval.py and upscale.py share, and argparse with one-line errors."""
import argparse
import re
import sys

from liifusion_jax.cli.outputs import MAX_PIXELS, MAX_SIDE
from liifusion_jax.models.factory import PRECISIONS


class ArgumentParser(argparse.ArgumentParser):
  """argparse with one-line errors (argparse's own print the usage first) that name an unknown option
  before anything else (argparse names it only after the missing required ones)."""

  def error(self, message):
    self.exit(2, f"{self.prog}: error: {message} (see --help)\n")

  def parse_known_args(self, args=None, namespace=None):
    unknown = self.unknown_option(sys.argv[1:] if args is None else args)
    if unknown is not None:
      self.error(f"unrecognized argument {unknown}")
    return super().parse_known_args(args, namespace)

  def unknown_option(self, argv):
    """The first argument of `argv` that is written as an option but names none of this parser's
    (long options may be abbreviated, short ones carry their value: -s4), or None."""
    known = self._option_string_actions
    for arg in argv:
      if arg == "--":
        return None
      if not arg.startswith("-") or arg == "-" or re.fullmatch(r"-\d*\.?\d+(e[-+]?\d+)?", arg):
        continue
      name = arg.split("=", 1)[0]
      if name in known or (arg.startswith("--") and any(o.startswith(name) for o in known)):
        continue
      if not arg.startswith("--") and arg[:2] in known:
        continue
      return arg
    return None


def add_output_flags(parser):
  """--overwrite and --force, the two ways past the output guards (`outputs`)."""
  parser.add_argument("--overwrite", action="store_true", help="replace outputs that exist already")
  parser.add_argument("--force", action="store_true",
                      help=f"make outputs over {MAX_PIXELS / 1e6:.1f} megapixels ({MAX_SIDE}x{MAX_SIDE}) too")


def add_model_flags(parser, default_chunk):
  """--seed, --chunk, --precision and --self-ensemble: how a model upscales (eval.py and upscale.py)."""
  parser.add_argument("--seed", type=int, default=0,
                      help="noise seed of the stage-2 sampled prior (default 0)")
  parser.add_argument("--self-ensemble", nargs="?", const=8, default=0, type=_ensemble_size, metavar="N",
                      help="average the upscalings of N transforms of each image, N times the time: 8 "
                           "(bare --self-ensemble: the flips and quarter turns, EDSR+), 4 (the quarter "
                           "turns: as free of the LR-grid pattern as 8) or 2 (a quarter turn: half of "
                           "it); stage 2: the same prior noise for all")
  parser.add_argument("--chunk", type=positive_int, default=None,
                      help=f"queries per decoder call (default: the checkpoint's eval_chunk, else "
                           f"{default_chunk})")
  parser.add_argument("--precision", choices=tuple(PRECISIONS), default="float32",
                      help="compute dtype (default float32); bf16 is faster on GPUs and TPUs, its "
                           "images differ from float32's by well under one 8-bit level on average")


def _ensemble_size(text):
  if text not in ("2", "4", "8"):
    raise argparse.ArgumentTypeError(f"expected 2, 4 or 8 transforms, got {text!r} (a bare --self-ensemble "
                                     f"is 8: put it after the input)")
  return int(text)


def positive_int(text):
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
  if value < 1:
    raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
  return value


def parse_scale(text):
  """A scale factor >= 1 ("3", "5.3") for argparse."""
  try:
    scale = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(
        f"invalid scale {text!r}: expected a number such as 4 or 5.3") from None
  if not 1 <= scale < float("inf"):
    raise argparse.ArgumentTypeError(
        f"invalid scale {text}: expected a number >= 1 (only upscaling is supported)")
  return scale


def parse_scales(text):
  """A comma-separated list of scales ("2,3,4,12,30")."""
  items = [t for t in text.split(",") if t.strip()]
  if not items:
    raise argparse.ArgumentTypeError("no scale given")
  return [parse_scale(t.strip()) for t in items]


def scale_name(scale):
  """x2, x5.3: the scale as people write it."""
  return f"x{scale:g}"
