"""Training on many devices equals training on one; checkpoints move between device counts.

The device count is fixed when jax starts, so the multi-device halves run in subprocesses
(tests/multidevice_worker.py) with `--xla_force_host_platform_device_count` on the CPU backend.
"""
import json
import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest
from jax.sharding import AbstractMesh, PartitionSpec as P

from liifusion_jax.checkpoints.run import load_params
from liifusion_jax import sharding
from liifusion_jax.train import distributed

REPO = pathlib.Path(__file__).resolve().parents[1]
WORKER = REPO / "tests" / "multidevice_worker.py"
TOL = 1e-5


def cpu_env(devices=None):
  env = dict(os.environ)
  # The caller's other XLA flags pass through (the suite can run under another CPU flag set).
  flags = [f for f in env.pop("XLA_FLAGS", "").split() if "device_count" not in f]
  env["JAX_PLATFORMS"] = "cpu"
  # The worker runs as a script (sys.path[0] is tests/): it must import this checkout's package, not
  # whichever one the environment has installed.
  env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
  if devices:
    flags.append(f"--xla_force_host_platform_device_count={devices}")
  if flags:
    env["XLA_FLAGS"] = " ".join(flags)
  return env


def run(args, env, timeout=900):
  done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
  assert done.returncode == 0, f"{args} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
  return done


def run_worker(*args, devices=None):
  run([sys.executable, str(WORKER), *map(str, args)], cpu_env(devices))


@pytest.fixture(scope="module")
def stage1_steps(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("multidevice")
  run_worker("step", "stage1", workdir, devices=4)
  return workdir, json.loads((workdir / "stage1.json").read_text())


def check_equivalence(report, mode):
  """A step on 4 devices equals the step on 1 in what is meant to be equal whatever the summation
  order: losses, gradients (Adam's first moments), the params wherever the gradient's sign is sure,
  the step counter (and stage 2's spectral-norm vectors). See multidevice_worker.compare."""
  result = report[mode]
  assert report["devices"] == 4 and result["layout"]["devices"] == 4
  assert report["update_size"] > 10 * TOL  # the step moves the params far more than the tolerance
  assert result["grad_size"] > 100 * TOL and result["sure_fraction"] > 0.1  # not a vacuous comparison
  assert result["metric_diff"] <= TOL, result
  assert result["grad_diff"] <= TOL, result
  assert result["param_diff"] <= TOL, result
  assert result["rest_diff"] <= TOL, result
  assert result["layout"]["state_matches"] and report["layout_one"]["state_matches"]


def test_the_equivalence_check_catches_a_share_counted_twice(stage1_steps):
  """Device 1's share replaced by device 0's (one dropped, one counted twice) must fail the check."""
  _, report = stage1_steps
  broken = report["twice_counted"]
  assert broken["grad_diff"] > 100 * TOL and broken["param_diff"] > 10 * TOL
  with pytest.raises(AssertionError):
    check_equivalence(report, "twice_counted")


def test_stage1_step_on_4_devices_equals_1_device(stage1_steps):
  _, report = stage1_steps
  check_equivalence(report, "replicated")
  assert report["replicated"]["layout"]["split_leaves"] == 0


def test_stage1_step_with_split_params_equals_1_device(stage1_steps):
  _, report = stage1_steps
  check_equivalence(report, "sharded")
  assert report["sharded"]["layout"]["split_leaves"] > 100  # the convs' kernels and their moments


def test_batch_that_does_not_divide_over_devices_is_refused(stage1_steps):
  _, report = stage1_steps
  assert "batch size 6 does not divide evenly over 4 devices" in report["odd_batch_error"]


@pytest.fixture(scope="module")
def restored_on_1(stage1_steps):
  workdir, _ = stage1_steps
  run_worker("restore", workdir)
  return json.loads((workdir / "restore.json").read_text())


def test_checkpoint_from_4_devices_restores_on_1(restored_on_1):
  report = restored_on_1
  assert report["devices"] == 1 and report["on_mesh"] and report["same_keys"]
  assert report["step"] == 1 and report["diff"] == 0.0
  # the same upscale from the restored params on 1 device as from the split ones on 4
  assert report["upscale_diff"] <= TOL


def test_params_of_a_4_device_checkpoint_load_on_1(restored_on_1):
  assert restored_on_1["load_params_diff"] == 0.0


@pytest.mark.slow
def test_stage2_step_on_4_devices_equals_1_device(tmp_path):
  run_worker("step", "stage2", tmp_path, devices=4)
  report = json.loads((tmp_path / "stage2.json").read_text())
  for mode in ("replicated", "sharded"):
    check_equivalence(report, mode)
    assert report[mode]["frozen_diff"] == 0.0  # the frozen prior encoder is carried unchanged
    assert report[mode]["layout"]["frozen_replicated"]
  assert report["sharded"]["layout"]["split_leaves"] > 100


TINY_RUN = ["--config", f"{REPO}/configs/stage1.py:quick", "--config.data.patch=16", "--config.batch_size=4",
            "--config.data.sample_q=64", "--config.data.scale_max=2.0", "--config.steps_per_epoch=2",
            "--config.epochs=1", "--config.val.crop=48", "--config.val.scales=(2.0,)",
            "--config.log_every_steps=1", "--config.data.num_workers=0"]


def free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def start_two_processes(script, run_args):
  """Runs `python *script *run_args` as 2 processes x 2 CPU devices of one job; (exit codes, outputs)."""
  port = free_port()
  procs = []
  for index in range(2):
    env = cpu_env(2)
    env.update(JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES="2",
               JAX_PROCESS_ID=str(index))
    procs.append(subprocess.Popen([sys.executable, *script, *run_args], cwd=REPO, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
  outputs = [p.communicate(timeout=900)[0] for p in procs]
  return [p.returncode for p in procs], outputs


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path):
  """2 processes x 2 devices (each feeding its half of every batch) = 1 process on 1 device."""
  multi, single = tmp_path / "multi", tmp_path / "single"
  codes, outputs = start_two_processes(["train.py"], [*TINY_RUN, "--workdir", str(multi)])
  assert codes == [0, 0], outputs
  assert "process 1 of 2: 2 local devices, 4 in all" in outputs[1]
  assert "step=2" in outputs[0] and "step=" not in outputs[1]  # only process 0 logs
  for events in (multi / "tb", multi / "tb" / "bicubic"):  # and only process 0 writes events
    assert len(list(events.glob("events.out.tfevents.*"))) == 1
  run([sys.executable, "train.py", *TINY_RUN, "--workdir", str(single)], cpu_env(1))

  records = {name: [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
             for name, d in (("multi", multi), ("single", single))}
  assert [sorted(r) for r in records["multi"]] == [sorted(r) for r in records["single"]]
  for a, b in zip(records["multi"], records["single"]):
    if "loss" in a:
      assert abs(a["loss"] - b["loss"]) <= TOL
  assert_same_training(multi, single)  # written by 2 processes, read by 1


def assert_same_training(a, b):
  """Two runs of the tiny config ended in the same params, as far as the summation order allows: Adam
  moves a param whose gradient is near zero by up to lr a step whichever its sign, so a few params may
  differ by that much on another machine; nearly all must agree to TOL."""
  config = json.loads((b / "config.json").read_text())
  steps, lr = config["epochs"] * config["steps_per_epoch"], config["optim"]["lr"]
  diffs = np.concatenate([np.abs(np.asarray(x, np.float64) - y).ravel() for x, y in zip(
      jax.tree.leaves(load_params(a, expected_stage="stage1")[0]),
      jax.tree.leaves(load_params(b, expected_stage="stage1")[0]), strict=True)])
  print(f"params differing by more than {TOL}: {np.mean(diffs > TOL):.2e} of them; largest {diffs.max():.2e}")
  assert np.mean(diffs > TOL) < 1e-3 and diffs.max() <= 2 * lr * steps


@pytest.mark.parametrize("shape, devices, spec", [
    ((3, 3, 64, 64), 4, P(None, None, None, "data")),   # ties: the last axis
    ((3, 3, 128, 64), 4, P(None, None, "data")),        # the largest divisible axis
    ((3, 3, 128, 6), 4, P(None, None, "data")),         # 6 does not divide by 4
    ((4097, 3), 4, P()),                                # no axis divides
    ((256,), 4, P()),                                   # too small to be worth splitting
    ((3, 3, 64, 64), 1, P()),
])
def test_param_spec(shape, devices, spec):
  assert sharding.param_spec(shape, devices) == spec


def test_split_state_keeps_the_frozen_module_and_small_leaves_replicated():
  from liifusion_jax.train.state import TrainState
  big, small = np.zeros((64, 64), np.float32), np.zeros((64,), np.float32)
  state = TrainState(step=np.int32(0), params={"prior_encoder": {"w": big}, "decoder": {"w": big, "b": small}},
                     opt_state=({"w": big},))
  specs = lambda tree: jax.tree.map(lambda s: s.spec, tree)
  split = sharding.state_shardings(state, AbstractMesh((4,), ("data",)), True, frozen="prior_encoder")
  assert specs(split.params) == {"prior_encoder": {"w": P()}, "decoder": {"w": P(None, "data"), "b": P()}}
  assert specs(split.opt_state) == ({"w": P(None, "data")},) and split.step.spec == P()
  replicated = sharding.state_shardings(state, AbstractMesh((4,), ("data",)), False)
  assert all(s.spec == P() for s in jax.tree.leaves(replicated))


@pytest.mark.parametrize("environ, expected", [
    ({}, None),
    ({"SLURM_NTASKS": "1", "OMPI_COMM_WORLD_SIZE": "1"}, None),
    ({"SLURM_NTASKS": "4"}, {}),
    ({"OMPI_COMM_WORLD_SIZE": "2"}, {}),
    ({"TPU_WORKER_HOSTNAMES": "t0,t1"}, {}),
    ({"TPU_WORKER_HOSTNAMES": "t0"}, None),
    ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_NUM_PROCESSES": "2", "JAX_PROCESS_ID": "1"},
     {"coordinator_address": "10.0.0.1:1234", "num_processes": 2, "process_id": 1}),
    ({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "SLURM_NTASKS": "2"},  # SLURM supplies the rest
     {"coordinator_address": "10.0.0.1:1234"}),
])
def test_distributed_settings_from_environment(environ, expected):
  assert distributed.settings(environ) == expected


def test_coordinator_without_process_count_is_a_clear_error():
  with pytest.raises(ValueError, match="JAX_NUM_PROCESSES"):
    distributed.settings({"JAX_COORDINATOR_ADDRESS": "10.0.0.1:1234", "JAX_PROCESS_ID": "0"})


SIGTERM_ON_PROCESS_1 = """
import os, signal, sys
from liifusion_jax.train import preemption

reached = preemption.StopRequest.reached


def sigterm_on_process_1(self, step):
  if step == 2 and os.environ["JAX_PROCESS_ID"] == "1":  # one host of the job is taken back
    os.kill(os.getpid(), signal.SIGTERM)
  return reached(self, step)


preemption.StopRequest.reached = sigterm_on_process_1
from liifusion_jax.cli.train import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigterm_on_one_process_stops_both_at_one_saved_step(tmp_path):
  """SIGTERM to process 1 only: both processes agree on a step, save it, exit 143; the rerun resumes
  from it and ends where an uninterrupted run ends."""
  preempted, straight = tmp_path / "preempted", tmp_path / "straight"
  args = [*TINY_RUN, "--config.epochs=3", "--workdir", str(preempted)]
  codes, outputs = start_two_processes(["-c", SIGTERM_ON_PROCESS_1], args)
  assert codes == [143, 143], "\n".join(output[-4000:] for output in outputs)
  steps = sorted(int(p.name) for p in (preempted / "checkpoints").iterdir() if p.name.isdigit())
  assert steps and steps[-1] in (3, 4), steps  # the agreed step: one past the furthest process's step
  for output in outputs:
    assert f"after step {steps[-1]}; saved" in output and "Traceback" not in output, output
  codes, outputs = start_two_processes(["train.py"], args)
  assert codes == [0, 0], outputs
  assert f"(step {steps[-1]})" in outputs[0]  # resumed there
  run([sys.executable, "train.py", *TINY_RUN, "--config.epochs=3", "--workdir", str(straight)], cpu_env(1))
  assert_same_training(preempted, straight)
