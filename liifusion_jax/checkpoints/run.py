"""A run's orbax checkpoints: the full training state, and params-only ones (the converter's).

They are `<workdir>/checkpoints/<step>/{state,meta}`, written atomically; `meta` is JSON with the
stage ("stage1" / "stage2") and the run's config, so a checkpoint of the wrong stage is refused with a
clear message instead of failing deep inside a restore. A step that cannot be read (a truncated or
missing file) is reported in one line: training moves it aside to `<step>.unreadable` and resumes from
the newest readable step (where none can be read, it stops and says so); eval.py and upscale.py name
the older steps to pass instead. Checkpoints of earlier versions, which kept stage 2's discriminator
under `extra`, restore into the current `train.state.TrainState`. `load_params` also reads inference
files (`inference_file`).
"""
import collections
import contextlib
import logging
import pathlib

import jax
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from liifusion_jax.checkpoints import abandoned_reads
from liifusion_jax.checkpoints.errors import CheckpointError, check_stage
from liifusion_jax.checkpoints.inference_file import (check_params_finite, flatten, is_inference_file,
                                                      load_inference_file)
from liifusion_jax.error_text import reason
from liifusion_jax.files import first_unused


def _check_shapes(saved, abstract_state, where):
  """Refuses a checkpoint whose arrays are not the ones of `abstract_state` (another model)."""
  count = lambda tree: collections.Counter(tuple(x.shape) for x in jax.tree.leaves(tree))
  if count(saved) != count(abstract_state):
    raise CheckpointError(f"{where} holds other arrays than this run's state (another model or "
                          "another version wrote it)")


def _read_or_reason(read):
  """(read(), None), or (None, the reason in a line) where the checkpoint is damaged; a
  CheckpointError (a refusal, not damage) passes through."""
  abandoned_reads.ignore_unawaited_reads()
  try:
    return read(), None
  except CheckpointError:
    raise
  except Exception as error:  # damage fails anywhere: json, orbax, tensorstore (a bare Exception)
    abandoned_reads.install()
    return None, reason(error)


class _ReadOnlyNotice(logging.Filter):
  """orbax's warning that a manager opened read-only is read-only ("Given directory is read only"):
  every checkpoint is read so here (eval.py, upscale.py, stage 2's init_from), and the folder is
  writable, so the line would only mislead."""

  def filter(self, record):
    return not record.getMessage().startswith("Given directory is read only")


logging.getLogger("absl").addFilter(_ReadOnlyNotice())  # absl.logging writes through this logger


def _manager(directory, keep=None, read_only=False):
  # A read-only manager saves nothing: save_interval_steps=0 says so (orbax warns where it sets it).
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=not read_only, read_only=read_only,
                                         save_interval_steps=0 if read_only else 1)
  return ocp.CheckpointManager(pathlib.Path(directory).absolute(), options=options,
                               item_names=("state", "meta"))


# Run checkpoints written before the train state named its fields hold stage 2's discriminator under
# `extra` (None in stage 1) with these names: they restore into the current state, so a run resumes.
LEGACY_FIELD = "extra"
LEGACY_DISCRIMINATOR = {"d_params": "params", "d_opt_state": "opt_state", "spectral": "spectral"}


def _legacy_layout(state):
  """A `train.state.TrainState` (abstract) as the tree of a legacy checkpoint."""
  disc = state.discriminator
  extra = None if disc is None else {old: getattr(disc, new) for old, new in LEGACY_DISCRIMINATOR.items()}
  return {"step": state.step, "params": state.params, "opt_state": state.opt_state, LEGACY_FIELD: extra}


def _from_legacy_layout(tree, like):
  """The TrainState (shaped as `like`) of a legacy checkpoint's restored tree."""
  disc = like.discriminator
  if disc is not None:
    disc = disc.replace(**{new: tree[LEGACY_FIELD][old] for old, new in LEGACY_DISCRIMINATOR.items()})
  return like.replace(step=tree["step"], params=tree["params"], opt_state=tree["opt_state"],
                      discriminator=disc)


class RunCheckpoints:
  """Saves and restores the full training state of one workdir."""

  def __init__(self, workdir, keep=3):
    self.directory = pathlib.Path(workdir).absolute() / "checkpoints"
    self.manager = _manager(self.directory, keep=keep)

  def latest_step(self):
    return self.manager.latest_step()

  def save(self, step, state, meta):
    """Starts writing `step` (orbax finishes it in a thread); a failed write, this one's or the one
    before's (a full disk, no permission), is a CheckpointError."""
    with self._failures_as_errors():
      self.manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)))

  def restore(self, step, abstract_state, stage, check_meta=None):
    """The state of `step`; CheckpointError for a wrong stage, or what `check_meta(meta, where)` refuses."""
    where = self.directory / str(step)
    meta = self.manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
    check_stage(meta, stage, where)
    if check_meta is not None:
      check_meta(meta, where)
    saved = ocp.StandardCheckpointHandler().metadata(where / "state")
    _check_shapes(saved, abstract_state, where)
    legacy = LEGACY_FIELD in saved.tree
    restored = self.manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(
        _legacy_layout(abstract_state) if legacy else abstract_state)))
    return _from_legacy_layout(restored["state"], abstract_state) if legacy else restored["state"]

  def restore_latest(self, abstract_state, stage, check_meta=None, restart=False):
    """(step, state) of the newest readable step, or (0, None) where the workdir has no checkpoint.

    Unreadable steps newer than the one restored are moved aside to `<step>.unreadable` (nothing is
    deleted), so that the run can save those steps again. Where there are steps and none can be read,
    a CheckpointError leaves everything as it was, unless `restart`: then they are all moved aside and
    training starts again.
    """
    unreadable = []
    for step in sorted(self.manager.all_steps(), reverse=True):
      state, why = _read_or_reason(lambda: self.restore(step, abstract_state, stage, check_meta))
      if why is None:
        self._set_aside(unreadable)
        return step, state
      if jax.process_index() == 0:
        print(f"warning: checkpoint {self.directory / str(step)} cannot be read ({why})")
      unreadable.append(step)
    if unreadable and not restart:
      raise CheckpointError(f"no checkpoint in {self.directory} can be read (steps "
                            f"{', '.join(map(str, unreadable))}); nothing was changed: start over with "
                            "--config.restart=True (they are moved aside) or another --workdir")
    self._set_aside(unreadable)
    return 0, None

  def _set_aside(self, steps):
    """Renames unreadable step folders to `<step>.unreadable` (process 0; the others wait)."""
    for step in steps:
      aside = first_unused(lambda n: self.directory / f"{step}.unreadable{n if n > 1 else ''}")
      if jax.process_index() == 0:
        (self.directory / str(step)).rename(aside)
        print(f"moved {self.directory / str(step)} to {aside}")
    if steps:
      multihost_utils.sync_global_devices(f"liifusion_set_aside_{'_'.join(map(str, steps))}")
      self.manager.reload()

  def check(self):
    """Raises the CheckpointError of a save that failed in its thread since the last call (without
    waiting for one in flight): training stops at the next step, not at the next save."""
    if not self.manager.is_saving_in_progress():
      self.wait()  # returns at once, or raises what the finished save's thread raised

  def wait(self):
    with self._failures_as_errors():
      self.manager.wait_until_finished()

  @contextlib.contextmanager
  def _failures_as_errors(self):
    try:
      yield
    except Exception as error:  # orbax's writer threads raise OSError, or tensorstore's ValueError
      raise CheckpointError(f"writing a checkpoint to {self.directory} failed ({reason(error)}); the "
                            "earlier checkpoints are kept") from error

  def close(self):
    self.manager.close()


def locate(path):
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


def load_params(path: str | pathlib.Path, expected_stage: str | None = None) -> tuple[dict, dict]:
  """The model params of a trained model, without the rest of its training state.

  Args:
    path: a run folder (its latest step), its checkpoints/ folder, one step folder, an inference file
      (.npz) or `pretrained:NAME`.
    expected_stage: "stage1" or "stage2" to refuse a model of the other stage; None takes either.

  Returns:
    (params, meta): the params as nested dicts of host numpy arrays (float32 from an inference file),
    and the meta saved with them: {"stage", "config", ...}.

  Raises:
    CheckpointError: nothing at `path`, another stage, an unreadable step (naming the older steps that
      could be passed instead), or params holding NaN/inf.
  """
  if is_inference_file(path):
    params, meta = load_inference_file(path)
    check_stage(meta, expected_stage, path)
    return params, meta
  directory, step = locate(path)
  params_and_meta, why = _read_or_reason(lambda: _load_params(directory, step, expected_stage))
  if why is None:
    return params_and_meta
  older = sorted((int(p.name) for p in directory.iterdir() if p.name.isdigit() and int(p.name) < step),
                 reverse=True)
  hint = (f"; pass an older step instead: {', '.join(str(directory / str(s)) for s in older)}"
          if older else "")
  raise CheckpointError(f"checkpoint {directory / str(step)} cannot be read ({why}){hint}")


def read_meta(directory, step):
  """The meta of `step` in a checkpoints `directory`; CheckpointError where it cannot be read."""
  manager = _manager(directory, read_only=True)
  meta, why = _read_or_reason(lambda: manager.restore(step, args=ocp.args.Composite(
      meta=ocp.args.JsonRestore()))["meta"])
  manager.close()
  if why is not None:
    raise CheckpointError(f"checkpoint {directory / str(step)} cannot be read ({why})")
  return meta


def _load_params(directory, step, expected_stage):
  manager = _manager(directory, read_only=True)
  meta = manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
  check_stage(meta, expected_stage, directory / str(step))
  # Onto one local device, whatever devices (GPUs, hosts) wrote it: the saved layout may name others.
  local = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
  saved = ocp.StandardCheckpointHandler().metadata(directory / str(step) / "state")
  target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=local), saved)
  state = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target)))["state"]
  manager.close()
  params = jax.tree.map(jax.device_get, state["params"])
  check_params_finite(flatten(params, "params"), directory / str(step),
                      "the model is broken (a diverged run?): use another step")
  return params, meta


def save_params(directory, params, meta, step=0):
  """Writes a params-only checkpoint (used by the PyTorch converter)."""
  manager = _manager(pathlib.Path(directory) / "checkpoints")
  manager.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave({"params": params}), meta=ocp.args.JsonSave(meta)))
  manager.wait_until_finished()
  manager.close()
