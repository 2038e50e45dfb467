"""`python -m liifusion_jax.convert REF.pth OUT_DIR`: a reference checkpoint as an orbax checkpoint.

REF is the reference's `torch.save` file (`{'model': {'sd': state_dict, ...}, 'discriminator': ...,
'mode': ...}`, read with PyTorch, an optional dependency) or an `.npz` of the state_dict (entries
`sd/<name>`, as the golden files, and `discriminator/<name>` for a discriminator). OUT_DIR then works
wherever a workdir is expected (eval.py, upscale.py, `--config.init_from`). A stage-2 file with its
discriminator becomes a stage-2 training state (generator, discriminator and its spectral-norm vectors;
both optimisers fresh) at step 0 that `train.py --config CONFIG --workdir OUT_DIR` continues.
"""
import argparse
import json
import pathlib
import sys

import numpy as np

from liifusion_jax.checkpoints.run import RunCheckpoints, save_params
from liifusion_jax.config import load_config
from liifusion_jax.convert import check_shapes, discriminator_params_from_state_dict, params_from_state_dict
from liifusion_jax.train.stage2 import Stage2

DISCRIMINATOR = "discriminator/"


def _npz_state_dicts(path):
  with np.load(path) as data:
    entries = {k: data[k] for k in data.files}
  pick = lambda prefix: {k[len(prefix):]: v for k, v in entries.items() if k.startswith(prefix)}
  return pick("sd/"), pick(DISCRIMINATOR) or None


def _pth_state_dicts(path):
  try:
    import torch
  except ImportError:
    raise ImportError("reading a .pth file needs PyTorch: pip install 'liifusion-jax[torch]'") from None
  saved = torch.load(path, map_location="cpu", weights_only=False)
  as_numpy = lambda sd: {k: v.detach().cpu().numpy() for k, v in sd.items()}
  model = as_numpy(saved["model"]["sd"] if "model" in saved else saved)
  return model, as_numpy(saved["discriminator"]["sd"]) if "discriminator" in saved else None


def read_state_dicts(path):
  """(model state_dict, discriminator state_dict or None) of a reference `.pth` or an `.npz`, as numpy."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"no such file: {path}")
  return _npz_state_dicts(path) if path.suffix == ".npz" else _pth_state_dicts(path)


def save_train_state(out, params, disc_sd, config_spec, source):
  """Writes the stage-2 training state of converted G params and a D state_dict as step 0 of `out`."""
  config = load_config(config_spec)
  if config.stage != "stage2":
    raise ValueError(f"{config_spec} is a {config.stage} config; a discriminator needs a stage-2 one")
  disc_vars = discriminator_params_from_state_dict(disc_sd)
  state = Stage2(config, steps_per_epoch=1).state_of_weights(params, disc_vars)
  checkpoints = RunCheckpoints(out, keep=None)
  checkpoints.save(0, state, {"stage": "stage2", "config": json.loads(config.to_json()), "source": source})
  checkpoints.wait()
  checkpoints.close()


def convert(reference, out, config_spec):
  """Converts `reference` into the workdir `out`; returns what was written, in words."""
  if (out / "checkpoints").exists():
    raise FileExistsError(f"{out} already holds checkpoints; choose an empty folder")
  state_dict, disc_sd = read_state_dicts(reference)
  if not state_dict:
    raise ValueError(f"{reference} holds no state_dict entries")
  stage, params = params_from_state_dict(state_dict)
  check_shapes(stage, params)  # else eval.py would fail later, deep in the model
  if stage == "stage2" and disc_sd:
    save_train_state(out, params, disc_sd, config_spec, str(reference))
    return "stage2 training state (generator and discriminator)"
  save_params(out, params, {"stage": stage, "config": {"model": {}}, "source": str(reference)})
  return f"{stage} checkpoint"


def main(argv=None):
  parser = argparse.ArgumentParser(prog="python -m liifusion_jax.convert", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("reference", help="reference checkpoint (.pth) or state_dict (.npz)")
  parser.add_argument("out_dir", help="folder for the orbax checkpoint (must not hold one already)")
  parser.add_argument("--config", default="stage2",
                      help="the stage-2 config a converted training state is continued with: a file or a "
                           "bundled name (default stage2)")
  args = parser.parse_args(argv)
  out = pathlib.Path(args.out_dir)
  try:
    written = convert(args.reference, out, args.config)
  except (OSError, ImportError, KeyError, ValueError) as error:
    print(f"error: {error}", file=sys.stderr)
    return 1
  print(f"wrote the {written} of {args.reference} to {out}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
