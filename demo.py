"""A local web demo of a stage-2 model: `python demo.py [--checkpoint RUN] [--port 7860]` (see --help;
needs the demo extra: pip install -e '.[demo]')."""
import sys

from liifusion_jax.cli.launch import demo

if __name__ == "__main__":
  sys.exit(demo())
