"""`python -m liifusion_jax.convert REF.pth OUT_DIR`: a reference checkpoint as an orbax checkpoint.

REF is the reference's `torch.save` file (`{'model': {'sd': state_dict, ...}, 'mode': ...}`, read
with PyTorch, an optional dependency) or an `.npz` of the state_dict (entries `sd/<name>`, as the
golden files). OUT_DIR then works wherever a workdir is expected (eval.py, upscale.py,
`--config.init_from`).
"""
import argparse
import pathlib
import sys

import numpy as np

from liifusion_jax.checkpoints import save_params
from liifusion_jax.convert import check_shapes, params_from_state_dict


def read_state_dict(path):
  """The model state_dict of a reference `.pth` or an `.npz` of `sd/<name>` arrays, as numpy."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"no such file: {path}")
  if path.suffix == ".npz":
    with np.load(path) as data:
      return {k[len("sd/"):]: data[k] for k in data.files if k.startswith("sd/")}
  try:
    import torch
  except ImportError:
    raise ImportError("reading a .pth file needs PyTorch: pip install 'liifusion-jax[torch]'") from None
  saved = torch.load(path, map_location="cpu", weights_only=False)
  state_dict = saved["model"]["sd"] if "model" in saved else saved
  return {k: v.detach().cpu().numpy() for k, v in state_dict.items()}


def main(argv=None):
  parser = argparse.ArgumentParser(prog="python -m liifusion_jax.convert", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("reference", help="reference checkpoint (.pth) or state_dict (.npz)")
  parser.add_argument("out_dir", help="folder for the orbax checkpoint (must not hold one already)")
  args = parser.parse_args(argv)
  out = pathlib.Path(args.out_dir)
  try:
    if (out / "checkpoints").exists():
      raise FileExistsError(f"{out} already holds checkpoints; choose an empty folder")
    state_dict = read_state_dict(args.reference)
    if not state_dict:
      raise ValueError(f"{args.reference} holds no state_dict entries")
    stage, params = params_from_state_dict(state_dict)
    check_shapes(stage, params)  # else eval.py would fail later, deep in the model
    save_params(out, params, {"stage": stage, "config": {"model": {}}, "source": str(args.reference)})
  except (OSError, ImportError, KeyError, ValueError) as error:
    print(f"error: {error}", file=sys.stderr)
    return 1
  print(f"wrote the {stage} checkpoint of {args.reference} to {out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
