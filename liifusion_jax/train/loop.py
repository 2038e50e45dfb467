"""The training loop of both stages, top to bottom: data, state (or resume), steps, logs, checkpoints.

A run lives in one workdir: `config.json`, `metrics.jsonl`, `checkpoints/<step>/`, `samples/`.
If the workdir holds a checkpoint, training resumes from it exactly: same step, optimiser state and
data order (batch k is a pure function of (seed, k), see data/pipeline.py).
"""
import collections
import contextlib
import json
import math
import pathlib
import time

import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

from liifusion_jax import evaluation
from liifusion_jax.checkpoints import RunCheckpoints
from liifusion_jax.data import defaults, images
from liifusion_jax.data.image_folder import ConcatSource, ImageFolder
from liifusion_jax.data.pipeline import prefetch_to_device, train_batches
from liifusion_jax.losses.lpips import load_lpips_params, lpips
from liifusion_jax.train import sharding
from liifusion_jax.train import stage1 as stage1_task
from liifusion_jax.train import stage2 as stage2_task
from liifusion_jax.upscaler import Upscaler

TASKS = {"stage1": stage1_task, "stage2": stage2_task}


def _train_source(data):
  """The training images: `train_dir` (and the built-in photographs where asked), or the built-in ones."""
  if not data.train_dir:
    return defaults.train_source(repeat=data.repeat)
  folder = ImageFolder(data.train_dir, first_k=data.first_k or None, cache=data.cache)
  return ConcatSource([folder, defaults.train_source()] if data.builtin_photos else [folder],
                      repeat=data.repeat)


def _sources(config):
  data = config.data
  train = _train_source(data)
  if data.val_dir:
    val = ImageFolder(data.val_dir, first_k=data.val_first_k or None)
  else:
    val = defaults.val_source()
  return train, val


def _sampler_options(config):
  data = config.data
  return dict(patch=data.patch, scale_min=data.scale_min, scale_max=data.scale_max,
              sample_q=data.sample_q, sample_patch=data.sample_patch, augment=data.augment,
              bucket=data.bucket)


def validation_images(source, crop):
  """Validation HR images as [0, 1] floats, centre-cropped to `crop` (0: whole) so shapes repeat."""
  result = []
  for i in range(len(source)):
    hr = images.as_float01(source[i])
    if crop:
      top, left = max(0, (hr.shape[0] - crop) // 2), max(0, (hr.shape[1] - crop) // 2)
      hr = hr[top:top + crop, left:left + crop]
    result.append(hr)
  return result


def validate(upscaler, hr_images, scales, protocol="div2k", seed=0, lpips_params=None):
  """Mean PSNR (and LPIPS, given its params) per scale of the model and of bicubic."""
  results = {}
  for scale in scales:
    scores = collections.defaultdict(list)
    for hr_full in hr_images:
      lr, hr = evaluation.make_pair(hr_full, scale, protocol)
      outputs = {"": upscaler(lr, hr.shape[:2], hr01=hr, seed=seed),
                 "bicubic_": evaluation.bicubic_upscale(lr, hr.shape[:2], protocol)}
      for name, sr in outputs.items():
        scores[f"val_{name}psnr_x{scale:g}"].append(evaluation.score(sr, hr, scale, protocol))
        if lpips_params is not None:
          distance = lpips(lpips_params, jnp.asarray(sr)[None] * 2 - 1, jnp.asarray(hr)[None] * 2 - 1)
          scores[f"val_{name}lpips_x{scale:g}"].append(float(distance[0]))
    results.update({k: float(np.mean(v)) for k, v in scores.items()})
  return results


def write_sample(upscaler, hr_full, scale, directory, seed=0, protocol="div2k"):
  """Saves LR, bicubic, model and HR images of one validation image; returns their PSNRs."""
  lr, hr = evaluation.make_pair(hr_full, scale, protocol)
  sr = upscaler(lr, hr.shape[:2], hr01=hr, seed=seed)
  bicubic = evaluation.bicubic_upscale(lr, hr.shape[:2], protocol)
  directory.mkdir(parents=True, exist_ok=True)
  for name, image in (("lr", lr), ("bicubic", bicubic), ("model", sr), ("hr", hr)):
    images.save_image(directory / f"x{scale:g}_{name}.png", image)
  return {"scale": scale, "psnr": evaluation.score(sr, hr, scale, protocol),
          "bicubic_psnr": evaluation.score(bicubic, hr, scale, protocol)}


class Logger:
  """Metrics to stdout (through tqdm) and to metrics.jsonl; silent on processes other than 0."""

  def __init__(self, workdir):
    self.primary = jax.process_index() == 0
    self.path = pathlib.Path(workdir) / "metrics.jsonl"

  def __call__(self, record, bar=None):
    if not self.primary:
      return
    with self.path.open("a") as f:
      f.write(json.dumps(record) + "\n")
    text = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())
    (bar.write if bar is not None else print)(text)


def _save_config(config, workdir):
  path = workdir / "config.json"
  text = config.to_json(indent=2)
  if path.exists() and json.loads(path.read_text()) != json.loads(text):
    print(f"note: {path} differs from this run's config; the new one is written beside it as "
          "config.resumed.json")
    path = workdir / "config.resumed.json"
  if jax.process_index() == 0:
    path.write_text(text)


def train(config, workdir):
  """Trains `config.stage` in `workdir` until `config.epochs`, resuming if a checkpoint is there."""
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  _save_config(config, workdir)
  task = TASKS[config.stage]
  mesh = sharding.data_mesh()
  sharding.check_batch_size(config.batch_size, mesh)
  train_source, val_source = _sources(config)
  steps_per_epoch = config.steps_per_epoch or math.ceil(len(train_source) / config.batch_size)
  total_steps = config.epochs * steps_per_epoch
  log = Logger(workdir)

  def batches(start, num_steps, num_workers):
    it = train_batches(train_source, seed=config.seed, batch_size=config.batch_size,
                       start_step=start, num_steps=num_steps, shard_index=jax.process_index(),
                       shard_count=jax.process_count(), num_workers=num_workers,
                       **_sampler_options(config))
    return prefetch_to_device(it, size=2, sharding=sharding.batch_sharding(mesh))

  rng = jax.random.PRNGKey(config.seed)
  state = task.init_state(config, rng, next(batches(0, 1, 0)), steps_per_epoch)
  state_sharding = sharding.state_shardings(state, mesh, config.shard_params,
                                            frozen=getattr(task, "FROZEN", None))
  state = sharding.place(state, state_sharding)
  checkpoints = RunCheckpoints(workdir, keep=config.keep_checkpoints)
  start = checkpoints.latest_step() or 0
  if start:
    abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state)
    state = checkpoints.restore(start, abstract, config.stage)
    print(f"resumed from {checkpoints.directory / str(start)} (step {start})")

  step, constants = task.make_train_step(config, steps_per_epoch)
  step_fn = sharding.jit_train_step(step, mesh, state_sharding, len(constants))
  constants = sharding.replicate(constants, mesh)
  val_hr = validation_images(val_source, config.val_crop)
  upscaler = Upscaler(config.stage, state.params, config.model, config.eval_chunk)
  lpips_params = load_lpips_params("alex") if config.stage == "stage2" else None
  meta = {"stage": config.stage, "config": json.loads(config.to_json())}
  save_every = config.save_every_epochs * steps_per_epoch
  val_every = config.val_every_epochs * steps_per_epoch
  bar = tqdm(total=total_steps, initial=start, desc=f"{config.stage} train", dynamic_ncols=True,
             disable=jax.process_index() != 0)
  window_start, window_loss = time.perf_counter(), []
  # Closed however the loop ends, so grain's workers stop and free their shared memory.
  with contextlib.closing(batches(start, total_steps - start, config.data.num_workers)) as train_data:
    for step, batch in zip(range(start, total_steps), train_data):
      state, metrics = step_fn(state, batch, jax.random.fold_in(rng, step), *constants)
      window_loss.append(metrics)
      bar.update(1)
      done = step + 1
      if done % config.log_every_steps == 0 or done == total_steps:
        means = {k: float(np.mean([jax.device_get(m[k]) for m in window_loss])) for k in metrics}
        seconds = (time.perf_counter() - window_start) / len(window_loss)
        log({"step": done, "epoch": done / steps_per_epoch, **means, "sec_per_step": seconds}, bar)
        window_start, window_loss = time.perf_counter(), []
      if done % save_every == 0 or done == total_steps:
        checkpoints.save(done, state, meta)
      if done % val_every == 0 or done == total_steps:
        upscaler.params = state.params
        log({"step": done, **validate(upscaler, val_hr, config.val_scales, seed=config.seed,
                                      lpips_params=lpips_params)}, bar)
  bar.close()
  checkpoints.wait()
  checkpoints.close()
  upscaler.params = state.params
  if jax.process_index() == 0:  # one writer of the shared workdir
    sample = write_sample(upscaler, val_hr[0], max(config.val_scales), workdir / "samples",
                          seed=config.seed)
    log({"step": total_steps, "sample": str(workdir / "samples"), **sample})
  return state
