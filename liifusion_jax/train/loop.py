"""The training loop of both stages, top to bottom: data, state (or resume), steps, logs, checkpoints.

A run lives in one workdir: `config.json` (written whole; a run starting at step 0 sets an earlier
run's records aside, train/earlier_run.py), `metrics.jsonl` and TensorBoard's `tb/` (train/metrics_log.py),
`checkpoints/<step>/`, `samples/`, and `.lock` (one training process per workdir). Validation is
evaluation/validation.py's, as `config.val` sets it. If the workdir holds a checkpoint, training resumes
from the newest readable one exactly: same step, optimiser state and data order (batch k is a pure
function of (seed, k), see data/pipeline.py). Losses and parameters are checked for NaN/inf before
anything is logged, saved or validated: a diverged run stops and leaves the earlier checkpoints and
samples as they were.
"""
import contextlib
import dataclasses
import json
import math
import pathlib
import time
from typing import Any, Callable, Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from tqdm import tqdm

from liifusion_jax import sharding
from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.checkpoints.run import RunCheckpoints
from liifusion_jax.config import differences
from liifusion_jax.data import decoded_cache, defaults, images
from liifusion_jax.data.image_folder import ConcatSource, ImageFolder, split_folders
from liifusion_jax.data.pipeline import prefetch_to_device, train_batches
from liifusion_jax.files import first_unused, written_whole
from liifusion_jax.evaluation.validation import Validator
from liifusion_jax.inference.upscaler import Upscaler
from liifusion_jax.models.factory import complete_model_config
from liifusion_jax.train import earlier_run, init_from, preemption, preflight, workdir_lock
from liifusion_jax.train.metrics_log import Logger
from liifusion_jax.train.errors import TrainingError
from liifusion_jax.train.state import TrainState, learning_rates
from liifusion_jax.train.task import Task, build_task
# Keys a resumed run must share with its checkpoint: they decide what the saved arrays mean.
RESUME_KEYS = ("stage", "loss", "model.")


def _train_source(data):
  """The training images: the folders of `train_dir` (comma-separated; `first_k` of each) and the
  built-in photographs where asked, or the built-in ones; an epoch lists every image `repeat` times."""
  if not data.train_dir:
    return defaults.train_source(repeat=data.repeat)
  cache_dir = (data.cache_dir or decoded_cache.DEFAULT_DIR) if data.cache else None
  names = split_folders(data.train_dir)
  for name in names:  # a missing or empty folder fails now, not after decoding the ones before it
    images.list_images(name)
  folders = [ImageFolder(name, first_k=data.first_k or None, cache_dir=cache_dir) for name in names]
  return ConcatSource(folders + [defaults.train_source()] if data.builtin_photos else folders,
                      repeat=data.repeat)


def _sampler_options(config):
  data = config.data
  return dict(patch=data.patch, scale_min=data.scale_min, scale_max=data.scale_max,
              sample_q=data.sample_q, sample_patch=data.sample_patch, augment=data.augment,
              bucket=data.bucket)


def _describe(changes):
  return ", ".join(f"{k} ({old!r} -> {new!r})" for k, (old, new) in changes.items())


def _save_config(config, workdir, start):
  """Writes this run's `config.json`, whole. At step 0 the earlier run's records are set aside first
  (`earlier_run`); a resumed run whose config differs writes `config.resumed.json` beside it instead;
  a damaged `config.json` (the checkpoint holds the run's config) is set aside in one line."""
  if jax.process_index() != 0:
    return
  path = workdir / "config.json"
  text = config.to_json(indent=2)
  if start == 0:
    earlier_run.set_aside(workdir, text)
  elif path.exists():
    saved = _saved_config(path)
    changes = differences(saved, json.loads(text)) if saved is not None else {}
    if changes:
      print(f"note: this run's config differs from {path} in {_describe(changes)}; it is written "
            "beside it as config.resumed.json")
      path = workdir / "config.resumed.json"
  with written_whole(path, "w") as file:
    file.write(text)


def _saved_config(path):
  """The config of `path`, or None where it is damaged (torn, empty, not a config): then it is moved
  aside to `config.damaged.json` with a warning."""
  try:
    saved = json.loads(path.read_text())
    if isinstance(saved, dict):
      return saved
    why = "not a config: no JSON object"
  except (UnicodeDecodeError, json.JSONDecodeError) as error:
    why = str(error)
  aside = first_unused(lambda n: path.with_name(f"config.damaged{n if n > 1 else ''}.json"))
  path.rename(aside)
  print(f"warning: {path} is damaged ({why}); moved to {aside.name}, and this run's config is written "
        "in its place (the checkpoint holds its own)")
  return None


def _resume_guard(config):
  """`check_meta` for a restore: refuses a checkpoint whose RESUME_KEYS differ from this config's."""
  current = json.loads(config.to_json())

  def check(meta, where):
    saved = meta.get("config", {})
    saved = {**saved, "model": complete_model_config(config.stage, saved.get("model", {}))}
    changes = differences(saved, current)
    fixed = {k: v for k, v in changes.items() if k.startswith(RESUME_KEYS)}
    if fixed:
      raise CheckpointError(f"{where} was trained with other settings: {_describe(fixed)}; resuming "
                            "would continue another model: use another --workdir or the saved values")

  return check


def _initial_state(task, config, first_batch, mesh, checkpoints):
  """(state on the mesh, its shardings, start step): the newest readable checkpoint's, else fresh.

  A resumed run takes the state's shapes from `jax.eval_shape`, so it needs neither an initialisation
  nor the `init_from` run, which only a fresh state loads.
  """
  rng = jax.random.PRNGKey(config.seed)
  abstract = jax.eval_shape(task.init_state, rng, first_batch)
  shardings = sharding.state_shardings(abstract, mesh, config.shard_params, frozen=task.frozen)
  target = jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), abstract,
                        shardings)
  start, state = checkpoints.restore_latest(target, task.stage, _resume_guard(config), config.restart)
  if state is not None:  # step 0 too: a converted reference run
    print(f"resumed from {checkpoints.directory / str(start)} (step {start})")
    return state, shardings, start
  state = task.load_init_from(task.init_state(rng, first_batch))
  return sharding.place(state, shardings), shardings, 0


@jax.jit
def _all_finite(tree):
  """Whether every floating-point array of `tree` is free of NaN and inf."""
  leaves = jax.tree.leaves(tree)
  return jnp.stack([jnp.isfinite(x).all() for x in leaves if jnp.issubdtype(x.dtype, jnp.inexact)]).all()


def check_training_finite(pending, state, last_saved):
  """Raises TrainingError at the first non-finite loss of `pending` [(step, metrics)], or where the
  state holds NaN/inf: a diverged run stops before it logs, saves or validates anything."""
  kept = f"the checkpoints up to step {last_saved}" if last_saved else "the workdir"
  advice = f"training stopped, saving nothing; {kept} and the samples are untouched: lower optim.lr"
  for step, metrics in pending:
    for name, value in jax.device_get(metrics).items():
      if not np.isfinite(value):
        raise TrainingError(f"step {step}: {name} is {float(value)}; {advice}")
  if not bool(_all_finite(state)):
    raise TrainingError(f"step {pending[-1][0]}: the parameters hold NaN or inf; {advice}")


def train(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> TrainState:
  """Trains `config.stage` in `workdir` until `config.epochs`, resuming if a checkpoint is there.

  With several processes (`train.distributed`) every process calls it with the same arguments; process
  0 writes the shared files (config, metrics, samples).

  Args:
    config: a stage's config (configs/stage1.py, configs/stage2.py), overrides applied.
    workdir: the run's folder: created if missing, locked for the run (a second process on it fails at
      once with TrainingError).

  Returns:
    The final train state (on the device mesh).

  Raises:
    ConfigError, ImageError (unusable training or validation images), CheckpointError, TrainingError
    (a diverged run, a workdir in use), OSError: the errors the CLI reports in one line.
    preemption.Preempted: a signal stopped training after the step in progress, whose checkpoint is
    saved.
  """
  preflight.check_config(config)
  workdir = pathlib.Path(workdir)
  preflight.check_workdir(workdir)
  init_from.check(config, workdir)  # before the workdir is made and the images decoded
  workdir.mkdir(parents=True, exist_ok=True)
  # Process 0 writes the shared files, so it alone stands for the run in the lock.
  with workdir_lock.hold(workdir) if jax.process_index() == 0 else contextlib.nullcontext():
    return _train(config, workdir)


@dataclasses.dataclass(frozen=True)
class _Run:
  """What the steps of a run need beside the state, built once by `_train`."""
  config: ml_collections.ConfigDict
  task: Task
  mesh: jax.sharding.Mesh
  state_sharding: Any  # a NamedSharding per leaf of the state
  steps_per_epoch: int
  total_steps: int
  batches: Callable[[int, int, int], Iterator[dict]]  # (start step, steps, workers) -> batches on the mesh
  checkpoints: RunCheckpoints
  upscaler: Upscaler
  validator: Validator
  log: Logger


def _train(config, workdir):
  mesh = sharding.data_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  train_source = _train_source(config.data)
  if config.data.train_dir and not config.data.cache:
    preflight.check_training_images(train_source)
  validator = Validator(config.val, config.seed)
  preflight.check_validation_images(validator.hr_images, config.val.scales, config.val.protocol)
  steps_per_epoch = config.steps_per_epoch or math.ceil(len(train_source) / config.batch_size)
  total_steps = config.epochs * steps_per_epoch
  task = build_task(config, steps_per_epoch)
  log = Logger(workdir, tensorboard=config.log.tensorboard)

  def batches(start, num_steps, num_workers):
    it = train_batches(train_source, seed=config.seed, batch_size=config.batch_size,
                       start_step=start, num_steps=num_steps, shard_index=jax.process_index(),
                       shard_count=jax.process_count(), num_workers=num_workers,
                       **_sampler_options(config))
    return prefetch_to_device(it, size=2, sharding=sharding.batch_sharding(mesh))

  checkpoints = RunCheckpoints(workdir, keep=config.keep_checkpoints)
  try:
    state, state_sharding, start = _initial_state(task, config, next(batches(0, 1, 0)), mesh, checkpoints)
    _save_config(config, workdir, start)  # after the resume guard: a refused resume writes nothing
    log.begin(start)
    upscaler = Upscaler(task.stage, state.params, config.model, config.eval_chunk,
                        precision=config.precision)
    run = _Run(config, task, mesh, state_sharding, steps_per_epoch, total_steps, batches, checkpoints,
               upscaler, validator, log)
    state = _run(run, state, start)
  finally:
    checkpoints.wait()  # a save in flight completes however the run ends (Ctrl-C, divergence)
    checkpoints.close()
    log.close()
  upscaler.set_params(state.params)
  if jax.process_index() == 0:  # one writer of the shared workdir
    validator.write_sample(upscaler, workdir / "samples", total_steps, log)
  return state


def _run(run, state, start):
  """The steps from `start` to `run.total_steps` with logs, checkpoints and validations; the final state."""
  config, task, checkpoints, log = run.config, run.task, run.checkpoints, run.log
  total_steps, steps_per_epoch = run.total_steps, run.steps_per_epoch
  rng = jax.random.PRNGKey(config.seed)
  constants = task.load_step_constants()
  step_fn = sharding.jit_train_step(task.make_train_step(), run.mesh, run.state_sharding, len(constants))
  constants = sharding.replicate(constants, run.mesh)
  meta = {"stage": task.stage, "config": json.loads(config.to_json())}
  save_every = config.save_every_epochs * steps_per_epoch
  val_every = config.val.every_epochs * steps_per_epoch
  window_start, window_loss = time.perf_counter(), []
  pending, last_saved = [], start  # pending: (step, metrics) not yet checked for NaN/inf
  bar = tqdm(total=total_steps, initial=start, desc=f"{task.stage} train", dynamic_ncols=True,
             disable=jax.process_index() != 0)

  def log_window(done):
    nonlocal window_start, window_loss
    means = {k: float(np.mean([jax.device_get(m[k]) for m in window_loss])) for k in window_loss[0]}
    seconds = (time.perf_counter() - window_start) / len(window_loss)
    log({"step": done, "epoch": done / steps_per_epoch, **means,
         **learning_rates(config.optim, steps_per_epoch, done - 1), "sec_per_step": seconds}, bar)
    window_start, window_loss = time.perf_counter(), []

  # Closed however the loop ends: grain's workers stop and free their shared memory, and the bar is
  # drawn for the last time before an error's message.
  with (contextlib.closing(run.batches(start, total_steps - start, config.data.num_workers)) as train_data,
        bar, preemption.StopRequest() as stop):
    for step, batch in zip(range(start, total_steps), train_data):
      # Asked before each step is dispatched, so that a signal that came during the last one (or its
      # logs, save or validation) stops after it, with its checkpoint.
      if step > start and stop.reached(step):
        if pending:
          check_training_finite(pending, state, last_saved)
        if window_loss:
          log_window(step)
        if last_saved != step:
          checkpoints.save(step, state, meta)
        checkpoints.wait()
        raise preemption.Preempted(step, stop.stop_signal, checkpoints.directory / str(step))
      state, metrics = step_fn(state, batch, jax.random.fold_in(rng, step), *constants)
      window_loss.append(metrics)
      bar.update(1)
      checkpoints.check()
      done = step + 1
      pending.append((done, metrics))
      log_now = done % config.log_every_steps == 0 or done == total_steps
      save_now = done % save_every == 0 or done == total_steps
      val_now = done % val_every == 0 or done == total_steps
      if log_now or save_now or val_now:
        check_training_finite(pending, state, last_saved)
        pending = []
      if log_now:
        log_window(done)
      if save_now:
        checkpoints.save(done, state, meta)
        last_saved = done
      if val_now:
        run.upscaler.set_params(state.params)  # a collective: every process gets here
        run.validator(run.upscaler, done, log, bar, abandon=stop.abandon_validation)
  return state
