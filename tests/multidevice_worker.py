"""Subprocess half of tests/test_multidevice.py (the device count is fixed when jax starts).

`python tests/multidevice_worker.py step STAGE WORKDIR`: one train step of STAGE on a 1-device mesh and
on a mesh of every device, state replicated and state split (`shard_params`), from the same state, batch
and key (stage 1 once more with one device's share of the batch counted twice: what the comparison
must catch); writes `WORKDIR/STAGE.json` (largest differences to the 1-device step, layouts seen) and, for
stage 1, the split state's result as `stage1_params.npz` and as a RunCheckpoints checkpoint in
`WORKDIR/run`.

`python tests/multidevice_worker.py restore WORKDIR`: restores that checkpoint on this process's
devices (the whole state with RunCheckpoints, the params with load_params) and upscales with it;
writes `WORKDIR/restore.json` (largest differences to the saved params and upscale, device count).
"""
import json
import pathlib
import sys

import jax
import numpy as np
import optax

from liifusion_jax import sharding
from liifusion_jax.checkpoints.run import RunCheckpoints, load_params, save_params
from liifusion_jax.config import apply_overrides, load_config
from liifusion_jax.data import defaults, images
from liifusion_jax.data.sampler import make_batch
from liifusion_jax.evaluation import protocols
from liifusion_jax.inference.upscaler import Upscaler
from liifusion_jax.train import loop, stage2
from liifusion_jax.train.task import build_task

REPO = pathlib.Path(__file__).resolve().parents[1]
BATCH = 4
TINY = [f"batch_size={BATCH}", "data.patch=16", "data.sample_q=64", "data.scale_max=2.0"]
# Stage 1 at the rate it is trained from scratch, so a step moves the params well past the tolerance
# (the quick config fine-tunes at 2e-5); stage 2 keeps its quick config's rate.
STAGE_TINY = {"stage1": ["optim.lr=2e-4"], "stage2": []}
SURE = 2e-5  # |gradient| above which its sign is sure where the gradients agree to 1e-5


def tiny_config(stage, *extra):
  return apply_overrides(load_config(REPO / f"configs/{stage}.py:quick"), [*TINY, *STAGE_TINY[stage], *extra])


def tiny_batch(config):
  """A fixed global batch (patch 16, scale <= 2: one 32-pixel bucket)."""
  data = config.data
  return make_batch(defaults.train_source(), np.random.default_rng(1), batch_size=BATCH, patch=data.patch,
                    scale_max=data.scale_max, sample_q=data.sample_q, sample_patch=data.sample_patch)


def run_step(task, state, batch, key, mesh, shard_params):
  """One jitted step on `mesh`, laid out as training lays it out; results on the host."""
  frozen = task.frozen
  state_sharding = sharding.state_shardings(state, mesh, shard_params, frozen=frozen)
  constants = task.load_step_constants()
  step_fn = sharding.jit_train_step(task.make_train_step(), mesh, state_sharding, len(constants))
  new_state, metrics = step_fn(sharding.place(state, state_sharding),
                               sharding.place(batch, sharding.batch_sharding(mesh)), key,
                               *sharding.replicate(constants, mesh))
  layout = {"state_matches": all(x.sharding == s for x, s in zip(
                jax.tree.leaves(new_state), jax.tree.leaves(state_sharding), strict=True)),
            "devices": len(mesh.devices),
            "split_leaves": sum(not s.is_fully_replicated for s in jax.tree.leaves(state_sharding)),
            "frozen_replicated": frozen is None or all(
                x.sharding.is_fully_replicated for x in jax.tree.leaves(new_state.params[frozen]))}
  return new_state, jax.device_get(new_state), jax.device_get(metrics), layout


def upscale(params, config):
  """A 2x upscale of a 48 x 48 photo crop with the stage-1 HR prior, in 250-query chunks (which do
  not divide evenly: the chunk is rounded up to whole per-device slices, the last one padded)."""
  lr, hr = protocols.make_pair(images.as_float01(defaults.val_source()[0])[:48, :48], 2.0, "div2k")
  return Upscaler("stage1", params, config.model, chunk=250)(lr, hr.shape[:2], hr01=hr)


def max_diff(a, b):
  return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def optimised(state):
  """(params, Adam state) of each optimiser of a train state: the model's (less stage 2's frozen
  prior encoder) and stage 2's discriminator's."""
  if state.discriminator is None:
    pairs = [(state.params, state.opt_state)]
  else:
    pairs = [(stage2.split_frozen(state.params)[0], state.opt_state),
             (state.discriminator.params, state.discriminator.opt_state)]
  is_adam = lambda x: isinstance(x, optax.ScaleByAdamState)
  return [(params, next(s for s in jax.tree.leaves(opt, is_leaf=is_adam) if is_adam(s)))
          for params, opt in pairs]


def compare(one, many):
  """How far the state after a step on many devices is from the state after the same step on one.

  After a first Adam step from zero moments, mu = (1 - b1) g (optax's b1 = 0.9, as `train.state.adam`
  uses): the gradients, compared as they are. The params are compared only where |g| > SURE: elsewhere
  Adam's update lr g / (|g| + eps) turns the rounding of a near-zero gradient (another summation order
  on another CPU or device count) into a sign-sized move, which is no error of the step.
  """
  grad_diff = grad_size = param_diff = 0.0
  sure = total = 0
  for (p_one, adam_one), (p_many, adam_many) in zip(optimised(one), optimised(many), strict=True):
    for g1, g4, x1, x4 in zip(*(jax.tree.leaves(t) for t in (adam_one.mu, adam_many.mu, p_one, p_many)),
                              strict=True):
      g1, g4 = (np.asarray(g, np.float64) / (1 - 0.9) for g in (g1, g4))
      grad_diff = max(grad_diff, float(np.max(np.abs(g1 - g4))))
      grad_size = max(grad_size, float(np.max(np.abs(g1))))
      mask = np.abs(g1) > SURE
      sure, total = sure + int(mask.sum()), total + mask.size
      if mask.any():
        param_diff = max(param_diff, float(np.max(np.abs(np.asarray(x1, np.float64) - x4)[mask])))
  rest = lambda s: (s.step, s.discriminator.spectral if s.discriminator is not None else ())
  return {"grad_diff": grad_diff, "grad_size": grad_size, "param_diff": param_diff,
          "sure_fraction": sure / total, "rest_diff": max_diff(rest(one), rest(many))}


def twice_counted_share(batch):
  """The batch with device 1's share replaced by device 0's (one example per device here): a step
  that dropped one device's share and counted another's twice would see this."""
  return jax.tree.map(lambda x: np.concatenate([x[:1], x[:1], x[2:]]), batch)


def step(stage, workdir):
  workdir = pathlib.Path(workdir)
  extra = [f"init_from={workdir / 'stage1_init'}"] if stage == "stage2" else []
  config = tiny_config(stage, *extra)
  task = build_task(config, steps_per_epoch=10)
  batch = tiny_batch(config)
  key = jax.random.PRNGKey(3)
  if stage == "stage2":
    # a stage-1 checkpoint to start from: the stage-1 init of the same tiny config
    stage1_config = tiny_config("stage1")
    params = build_task(stage1_config, 10).init_state(jax.random.PRNGKey(5), tiny_batch(stage1_config)).params
    save_params(workdir / "stage1_init", jax.device_get(params), {"stage": "stage1", "config": {}})
  state = jax.device_get(task.init_state(jax.random.PRNGKey(0), batch))

  _, one, one_metrics, one_layout = run_step(task, state, batch, key, sharding.data_mesh(jax.devices()[:1]),
                                             False)
  report = {"devices": jax.device_count(), "update_size": max_diff(one.params, state.params),
            "metrics": {k: float(v) for k, v in one_metrics.items()}, "layout_one": one_layout}
  runs = {"replicated": (batch, False), "sharded": (batch, True)}
  if stage == "stage1":
    runs["twice_counted"] = (twice_counted_share(batch), False)
  for name, (many_batch, shard_params) in runs.items():
    many_state, many, many_metrics, layout = run_step(task, state, many_batch, key, sharding.data_mesh(),
                                                      shard_params)
    report[name] = {**compare(one, many), "metric_diff": max_diff(one_metrics, many_metrics),
                    "layout": layout}
    if stage == "stage2":
      frozen = task.frozen
      report[name]["frozen_diff"] = max_diff(many.params[frozen], state.params[frozen])
    if stage == "stage1" and name == "sharded":  # the split state: a checkpoint to restore on one device
      np.savez(workdir / "stage1_params.npz",
               **{jax.tree_util.keystr(p): x for p, x in jax.tree_util.tree_leaves_with_path(many)})
      checkpoints = RunCheckpoints(workdir / "run")
      checkpoints.save(1, many_state, {"stage": "stage1", "config": {}})
      checkpoints.wait()
      checkpoints.close()
      np.save(workdir / "upscaled.npy", upscale(many_state.params, config))
  if stage == "stage1":
    try:
      loop.train(tiny_config(stage, f"batch_size={jax.device_count() + 2}"), workdir / "odd_batch")
    except ValueError as error:
      report["odd_batch_error"] = str(error)
  (workdir / f"{stage}.json").write_text(json.dumps(report))


def restore(workdir):
  workdir = pathlib.Path(workdir)
  config = tiny_config("stage1")
  batch = tiny_batch(config)
  mesh = sharding.data_mesh()
  shapes = jax.eval_shape(build_task(config, 10).init_state, jax.random.PRNGKey(0), batch)
  abstract = jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), shapes,
                          sharding.state_shardings(shapes, mesh))
  checkpoints = RunCheckpoints(workdir / "run")
  state = checkpoints.restore(checkpoints.latest_step(), abstract, "stage1")
  checkpoints.close()
  saved = np.load(workdir / "stage1_params.npz")
  try:  # the params alone, as eval.py, upscale.py and stage 2's init_from read them
    params, _ = load_params(workdir / "run", expected_stage="stage1")
    params_diff = max(float(np.max(np.abs(saved[".params" + jax.tree_util.keystr(p)] - x)))
                      for p, x in jax.tree_util.tree_leaves_with_path(params))
  except ValueError as error:
    params_diff = f"load_params failed: {error}"
  leaves = jax.tree_util.tree_leaves_with_path(state)
  report = {"devices": jax.device_count(),
            "same_keys": sorted(saved.files) == sorted(jax.tree_util.keystr(p) for p, _ in leaves),
            "diff": max(float(np.max(np.abs(saved[jax.tree_util.keystr(p)] - np.asarray(x))))
                        for p, x in leaves),
            "on_mesh": all(x.sharding == sharding.replicated(mesh) for _, x in leaves),
            "step": int(state.step),
            "load_params_diff": params_diff,
            "upscale_diff": float(np.max(np.abs(upscale(state.params, config)
                                                - np.load(workdir / "upscaled.npy"))))}
  (workdir / "restore.json").write_text(json.dumps(report))


if __name__ == "__main__":
  if sys.argv[1] == "step":
    step(sys.argv[2], sys.argv[3])
  else:
    restore(sys.argv[2])
