"""Inference files: the `.npz` format of trained models, and the bundled ones (`pretrained:NAME`).

An inference file holds the generator params as 16-bit floats under `params/<module>/...`
(computation stays float32; 16 bits move PSNR by less than 0.01 dB, see README) and `meta.json`, the
stage, the run's config and its provenance (data, steps, seconds, device, commit). Those bundled in
`liifusion_jax/pretrained/` load by name wherever a checkpoint is accepted: `pretrained:stage2`.
"""
import json
import pathlib

import numpy as np

from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.files import written_whole

PRETRAINED = "pretrained:"  # pretrained:NAME, a bundled inference file
PRETRAINED_NAMES = ("stage1", "stage2")
PRETRAINED_DIR = pathlib.Path(__file__).resolve().parent.parent / "pretrained"
# Stage 2 samples its prior from the LR image: the frozen HR prior encoder only served training.
TRAINING_ONLY = {"stage1": (), "stage2": ("prior_encoder",)}


def is_inference_file(spec):
  """Whether a checkpoint argument names a bundled model or an inference file."""
  return str(spec).startswith(PRETRAINED) or str(spec).endswith(".npz")


def resolve_inference_file(spec):
  """The file of `pretrained:NAME`, or `spec` itself as a path."""
  spec = str(spec)
  if not spec.startswith(PRETRAINED):
    return pathlib.Path(spec)
  name = spec[len(PRETRAINED):]
  if name not in PRETRAINED_NAMES:
    raise CheckpointError(f"unknown bundled model {spec!r}; known: "
                          f"{', '.join(PRETRAINED + n for n in PRETRAINED_NAMES)}")
  return PRETRAINED_DIR / f"{name}.npz"


def flatten(tree, prefix):
  """{`prefix/a/b`: numpy array} of a nested dict of arrays."""
  if not isinstance(tree, dict):
    return {prefix: np.asarray(tree)}
  return {k: v for key, sub in tree.items() for k, v in flatten(sub, f"{prefix}/{key}").items()}


def _unflatten(flat):
  tree = {}
  for key, value in flat.items():
    *parents, leaf = key.split("/")[1:]
    node = tree
    for parent in parents:
      node = node.setdefault(parent, {})
    node[leaf] = value
  return tree


def check_params_finite(arrays, where, advice):
  """Refuses model parameters ({name: array}) holding NaN or inf, naming the first such array: one
  broken weight makes a wrong image (NaN in the encoder: a flat grey one), not always a NaN one."""
  for name, array in arrays.items():
    bad = array.size - np.count_nonzero(np.isfinite(array))
    if bad:
      raise CheckpointError(f"{where}: {name} holds NaN or inf ({bad} of {array.size} values); {advice}")


def save_inference_file(path, params, meta, dtype=np.float16):
  """Writes an inference file: the params needed at inference time, stored as `dtype` (each checked
  to be finite there: float16 turns values past 65504 into inf)."""
  params = {k: v for k, v in params.items() if k not in TRAINING_ONLY[meta["stage"]]}
  with np.errstate(over="ignore"):  # checked below, in one line
    arrays = {k: v.astype(dtype) for k, v in flatten(params, "params").items()}
  check_params_finite(arrays, f"{path} (as {np.dtype(dtype).name})", "export it with --dtype float32")
  with written_whole(path) as file:
    np.savez_compressed(file, **arrays, **{"meta.json": np.array(json.dumps(meta))})


def load_inference_file(spec):
  """(params as float32 numpy arrays, meta) of `pretrained:NAME` or an inference file; every array
  checked to be finite."""
  path = resolve_inference_file(spec)
  if not path.is_file():
    raise CheckpointError(f"{spec}: no such inference file ({path})")
  try:
    with np.load(path) as data:
      meta = json.loads(str(data["meta.json"]))
      arrays = {k: data[k].astype(np.float32) for k in data.files if k != "meta.json"}
  except (OSError, ValueError, KeyError) as error:
    raise CheckpointError(f"{spec}: not a readable inference file ({error})") from None
  check_params_finite(arrays, spec, "the model is broken (a diverged run?): use another one")
  return _unflatten(arrays), meta
