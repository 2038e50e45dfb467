"""Orbax checkpoints of a run: `<workdir>/checkpoints/<step>/{state,meta}`, written atomically.

`meta` is JSON with the stage ("stage1" / "stage2") and the run's config, so a checkpoint of the
wrong stage is refused with a clear message instead of failing deep inside a restore.
"""
import pathlib

import jax
import orbax.checkpoint as ocp


class CheckpointError(ValueError):
  """A checkpoint that is missing or of the wrong kind."""


def _manager(directory, keep=None, read_only=False):
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only, read_only=read_only)
  return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options,
                               item_names=("state", "meta"))


class RunCheckpoints:
  """Saves and restores the full training state of one workdir."""

  def __init__(self, workdir, keep=3):
    self.directory = pathlib.Path(workdir).absolute() / "checkpoints"
    self.manager = _manager(self.directory, keep=keep)

  def latest_step(self):
    return self.manager.latest_step()

  def save(self, step, state, meta):
    self.manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)))

  def restore(self, step, abstract_state, stage):
    meta = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    check_stage(meta, stage, self.directory / str(step))
    restored = self.manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state)))
    return restored["state"]

  def wait(self):
    self.manager.wait_until_finished()

  def close(self):
    self.manager.close()


def check_stage(meta, expected, where):
  stage = meta.get("stage")
  if expected is not None and stage != expected:
    raise CheckpointError(
        f"{where} is a {stage} checkpoint, but a {expected} checkpoint is expected here")


def _locate(path):
  """(checkpoints directory, step) for a workdir, its checkpoints/ folder, or one step folder."""
  path = pathlib.Path(path).absolute()
  if not path.exists():
    raise CheckpointError(f"checkpoint path not found: {path}")
  for directory in (path / "checkpoints", path):
    if directory.is_dir():
      steps = sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())
      if steps:
        return directory, steps[-1]
  if path.name.isdigit() and (path / "state").is_dir():
    return path.parent, int(path.name)
  raise CheckpointError(f"no checkpoint found in {path}")


def load_params(path, expected_stage=None):
  """(params, meta) of the latest checkpoint under `path`, as host numpy arrays."""
  directory, step = _locate(path)
  manager = _manager(directory, read_only=True)
  meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
  check_stage(meta, expected_stage, directory / str(step))
  # Onto one local device, whatever devices (GPUs, hosts) wrote it: the saved layout may name others.
  local = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  saved = ocp.StandardCheckpointHandler().metadata(directory / str(step) / "state")
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=local), saved)
  state = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target)))["state"]
  manager.close()
  return jax.tree.map(jax.device_get, state["params"]), meta


def save_params(directory, params, meta, step=0):
  """Writes a params-only checkpoint (used by the PyTorch converter)."""
  manager = _manager(pathlib.Path(directory) / "checkpoints")
  manager.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave({"params": params}), meta=ocp.args.JsonSave(meta)))
  manager.wait_until_finished()
  manager.close()
