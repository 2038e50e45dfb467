"""Command line of the web demo (`liifusion-demo`, `python -m liifusion_jax demo`): a local Gradio app
that upscales an uploaded image and shows it beside bicubic and in a deep-zoom view (`demo/`)."""
import sys

from liifusion_jax import compilation_cache
from liifusion_jax.cli import flags
from liifusion_jax.cli.errors import UsageError, user_errors
from liifusion_jax.cli.logs import quiet_logs
from liifusion_jax.models.factory import PRECISIONS

DEFAULT_CHECKPOINT = "pretrained:stage2"


def parse_args(argv):
  parser = flags.ArgumentParser(description="A local web demo of a stage-2 LIIFusion model: upload, "
                                            "upscale, compare with bicubic, deep zoom up to x30.")
  parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
  parser.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
  parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                      help="a stage-2 run folder, its checkpoints/ folder, one step folder, an inference "
                           f"file (.npz) or a bundled model (default {DEFAULT_CHECKPOINT})")
  parser.add_argument("--max-side", type=flags.positive_int, default=1024,
                      help="the largest upload, in pixels on its long side (default 1024)")
  parser.add_argument("--max-output-side", type=flags.positive_int, default=4096,
                      help="the largest upscaling shown whole, in pixels on its long side (default 4096; "
                           "the deep-zoom view shows any part of x30)")
  parser.add_argument("--precision", choices=tuple(PRECISIONS), default="float32",
                      help="compute dtype (default float32; bf16 is faster on GPUs)")
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(sys.argv[1:] if argv is None else argv)
  with user_errors():
    quiet_logs()
    compilation_cache.enable()
    try:
      from liifusion_jax.demo import app
    except ImportError as error:
      raise UsageError(f"the demo needs Gradio ({error}): pip install 'liifusion-jax[demo]'") from None
    app.serve(args)
  return 0
