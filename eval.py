"""Evaluates a checkpoint or bicubic:
`python eval.py --checkpoint RUN --scales 2,3,4,12,30 [--data DIR ...]` (see --help)."""
import sys

from liifusion_jax.cli.launch import evaluate

if __name__ == "__main__":
  sys.exit(evaluate())
