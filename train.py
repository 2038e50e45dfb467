"""Trains LIIFusion: `python train.py --config configs/stage1.py --workdir runs/stage1 [--config.a.b=v ...]`."""
import sys

from liifusion_jax.cli.launch import train

if __name__ == "__main__":
  sys.exit(train())
