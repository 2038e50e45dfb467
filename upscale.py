"""Upscales with a stage-2 checkpoint:
`python upscale.py IN.png -o OUT.png --checkpoint RUN (--scale 3.7 | --size 1920x1080)` (see --help)."""
import sys

from liifusion_jax.cli.launch import upscale

if __name__ == "__main__":
  sys.exit(upscale())
