"""Faults a careful user or a hostile input causes, on copies of tiny runs: divergence, bad counts, a
second process on a workdir, a damaged checkpoint, a changed model on resume, a kill during a save.
Each must end in one line and lose nothing."""
import hashlib
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import warnings

import jax
import numpy as np
import pytest
from PIL import Image

from liifusion_jax.checkpoints import run as checkpoint_run
from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.checkpoints.run import load_params
from liifusion_jax.error_text import reason
from liifusion_jax.cli import train as cli
from liifusion_jax.config import ConfigError, apply_overrides, load_config
from liifusion_jax.train import earlier_run, loop, metrics_log, preflight, workdir_lock
from liifusion_jax.train.errors import TrainingError
from cli_helpers import exit_status, smooth_photo
from conftest import REPO
from train_helpers import TINY, assert_trees_equal, checkpoint_steps, losses, tiny_config



def fingerprint(folder):
  """{relative path: sha256} of every file under `folder`."""
  return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
          for p in sorted(folder.rglob("*")) if p.is_file()}


def train_cli(workdir, *overrides):
  """train.py's exit status."""
  return exit_status(cli.main, ["--config", f"{REPO}/configs/stage1.py:quick", "--workdir", str(workdir),
                                *(f"--config.{o}" for o in (*TINY, *overrides))])


def error_line(capsys):
  """The one `error:` line of stderr (the progress bar shares stderr), checking there is no traceback."""
  err = capsys.readouterr().err
  assert "Traceback" not in err, err
  lines = [line for line in err.splitlines() if line.startswith("error:")]
  assert len(lines) == 1, err
  return lines[0]


def test_nan_learning_rate_stops_and_keeps_checkpoints_and_samples(stage1_runs, tmp_path, capsys):
  workdir = shutil.copytree(stage1_runs[0], tmp_path / "run")
  kept = {name: fingerprint(workdir / name) for name in ("checkpoints", "samples")}
  assert train_cli(workdir, "epochs=4", "optim.lr=1e8") == 1
  line = error_line(capsys)
  assert line.startswith("error: step ") and "checkpoints up to step 4" in line, line
  assert {name: fingerprint(workdir / name) for name in kept} == kept


def test_fresh_diverging_run_saves_nothing_non_finite(tmp_path):
  with pytest.raises(TrainingError, match=r"step \d+: (loss is nan|the parameters hold NaN or inf)"):
    loop.train(tiny_config("stage1", 2, "optim.lr=1e8"), tmp_path)
  for step in checkpoint_steps(tmp_path):
    params, _ = load_params(tmp_path / "checkpoints" / str(step))
    assert all(np.isfinite(x).all() for x in jax.tree.leaves(params)), step


@pytest.mark.parametrize("override, words", [
    ("keep_checkpoints=0", "keep_checkpoints must be >= 1"),
    ("batch_size=0", "batch_size must be >= 1"),
    ("save_every_epochs=0", "save_every_epochs must be >= 1"),
    ("val.crop=6", "too small for scale 2"),
    ("val.protocol=set5", "unknown val.protocol 'set5'; valid ones: benchmark"),
    ("optim.lr=-1", "optim.lr must be >= 0"),  # was accepted, and saved a wrecked checkpoint
    ("stage=stage3", "unknown stage 'stage3'; known stages: stage1, stage2"),
    ("data.cache=maybe", "data.cache: config key expects a boolean (true/false, yes/no or 1/0, any case)"),
])
def test_bad_settings_are_refused_before_any_change(override, words, stage1_runs, tmp_path, capsys):
  workdir = shutil.copytree(stage1_runs[0], tmp_path / "run")
  before = fingerprint(workdir)
  assert train_cli(workdir, "epochs=3", override) == 1
  assert words in error_line(capsys)
  assert fingerprint(workdir) == before


@pytest.mark.parametrize("text, value", [("false", False), ("No", False), ("0", False), ("FALSE", False),
                                         ("true", True), ("YES", True), ("1", True), ("True", True)])
def test_boolean_overrides_take_the_usual_spellings(text, value):
  config = load_config(f"{REPO}/configs/stage1.py:quick")
  apply_overrides(config, [f"data.cache={not value}"])
  assert apply_overrides(config, [f"data.cache={text}"]).data.cache is value


@pytest.mark.parametrize("override, words", [
    ("optim.d_lr=-1e-4", "optim.d_lr must be >= 0"),
    ("optim.gamma=-0.5", "optim.gamma must be >= 0"),
    ("loss_weights.gan=-0.05", "loss_weights.gan must be >= 0 (0 turns the term off), got -0.05"),
    ("loss_weights.perceptual=1e999", "loss_weights.perceptual must be >= 0"),
    ("batch_size=True", "batch_size: config key expects int, got 'True'"),
])
def test_bad_stage2_settings_are_refused_up_front(override, words):
  config = load_config(f"{REPO}/configs/stage2.py:quick")
  preflight.check_config(apply_overrides(config, ["loss_weights.gan=0", "optim.d_lr=0"]))  # terms off
  with pytest.raises(ConfigError, match=re.escape(words)):
    preflight.check_config(apply_overrides(config, [override]))


def test_workdir_that_is_a_file_is_refused(tmp_path, capsys):
  (tmp_path / "file").write_text("not a folder")
  assert train_cli(tmp_path / "file") == 1
  assert "is not a folder" in error_line(capsys)


def test_uncached_training_images_are_all_decoded_at_start_up(tmp_path, capsys):
  photos = tmp_path / "photos"
  photos.mkdir()
  Image.fromarray(smooth_photo(40, 40)).save(photos / "a.png")
  Image.fromarray(smooth_photo(40, 40, 1)).save(photos / "b.png")
  (photos / "b.png").write_bytes((photos / "b.png").read_bytes()[:-40])  # the header still reads
  assert train_cli(tmp_path / "run", f"data.train_dir={photos}", "data.cache=False", "epochs=1") == 1
  assert "cannot read image" in error_line(capsys) and not (tmp_path / "run" / "checkpoints").exists()


def test_second_process_on_a_workdir_is_refused(tmp_path, capsys):
  holder = subprocess.Popen(
      [sys.executable, "-c", textwrap.dedent(f"""
          import pathlib, time
          from liifusion_jax.train import workdir_lock
          with workdir_lock.hold(pathlib.Path({str(tmp_path)!r})):
            print("held", flush=True)
            time.sleep(120)""")], cwd=REPO, stdout=subprocess.PIPE, text=True)
  try:
    assert holder.stdout.readline().strip() == "held"
    assert train_cli(tmp_path) == 1
    assert f"in use by another training process (PID {holder.pid})" in error_line(capsys)
  finally:
    holder.kill()
    holder.wait()
  with workdir_lock.hold(tmp_path):  # the kernel freed it with its holder
    pass


def _truncate_largest_array(step_dir):
  data = max((step_dir / "state" / "ocdbt.process_0" / "d").iterdir(), key=lambda p: p.stat().st_size)
  data.write_bytes(data.read_bytes()[:100])


def _truncate_meta(step_dir):
  meta = step_dir / "meta" / "metadata"
  meta.write_bytes(meta.read_bytes()[:5])


def _remove_process_folder(step_dir):
  shutil.rmtree(step_dir / "state" / "ocdbt.process_0")


# When one read of a damaged checkpoint fails, orbax abandons the reads of the other arrays; each would
# be an unraisable exception when it ends or is collected (checkpoints/abandoned_reads.py drops them).
NO_ABANDONED_READS_SHOWN = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


def test_an_abandoned_read_collected_before_the_failure_is_reported_warns_nothing():
  """orbax's other reads may be collected while the failing one still unwinds (CI once showed their
  "never awaited" warning): the filter is in place before the read, not only after its failure."""
  error = OSError("truncated")

  def failing_read():
    warnings.warn("coroutine '_read_array_index_and_device_put' was never awaited", RuntimeWarning)
    raise error

  with warnings.catch_warnings(record=True) as shown:
    warnings.simplefilter("always")
    assert checkpoint_run._read_or_reason(failing_read) == (None, reason(error))
  assert not shown, [str(w.message) for w in shown]


@NO_ABANDONED_READS_SHOWN
@pytest.mark.parametrize("damage", [_truncate_largest_array, _truncate_meta, _remove_process_folder])
def test_damaged_checkpoint_names_the_older_steps(damage, stage1_runs, tmp_path):
  workdir = shutil.copytree(stage1_runs[0], tmp_path / "run")
  damage(workdir / "checkpoints" / "4")
  older = str(workdir / "checkpoints" / "2")
  with pytest.raises(CheckpointError, match=f"checkpoints/4 cannot be read .*older step instead: "
                                            f"{re.escape(older)}$"):
    load_params(workdir)
  load_params(older)


@NO_ABANDONED_READS_SHOWN
def test_training_resumes_from_the_newest_readable_step_exactly(stage1_runs, tmp_path, capsys):
  straight = stage1_runs[0]
  workdir = shutil.copytree(straight, tmp_path / "run")
  _truncate_largest_array(workdir / "checkpoints" / "4")
  loop.train(tiny_config("stage1", 2), workdir)
  out = capsys.readouterr().out
  assert "checkpoints/4 cannot be read" in out and "resumed from" in out and "(step 2)" in out
  assert (workdir / "checkpoints" / "4.unreadable").is_dir()  # set aside, not deleted
  assert checkpoint_steps(workdir) == [2, 4]
  assert_trees_equal(load_params(straight)[0], load_params(workdir)[0])
  assert losses(workdir) == losses(straight)


def test_resume_with_another_model_is_refused(stage1_runs, tmp_path):
  workdir = shutil.copytree(stage1_runs[0], tmp_path / "run")
  with pytest.raises(CheckpointError, match=r"other settings: model\.prior_to \('q' -> 'qkv'\)"):
    loop.train(tiny_config("stage1", 3, "model.prior_to=qkv"), workdir)
  with pytest.raises(CheckpointError, match=r"other settings: loss \('l1' -> 'mse'\)"):
    loop.train(tiny_config("stage1", 3, "loss=mse"), workdir)
  assert not (workdir / "config.resumed.json").exists()  # a refused resume writes nothing


def test_config_note_names_the_changed_keys(tmp_path, capsys):
  loop._save_config(tiny_config("stage1", 1, "optim.lr=0.0002"), tmp_path, 0)
  loop._save_config(tiny_config("stage1", 2, "optim.lr=0.001"), tmp_path, 2)
  out = capsys.readouterr().out
  assert "differs from" in out and "epochs (1 -> 2), optim.lr (0.0002 -> 0.001)" in out


KILL_DURING_SAVE = """
import os, signal, sys
from liifusion_jax.checkpoints.run import RunCheckpoints

save = RunCheckpoints.save


def save_then_die(self, step, state, meta):
  save(self, step, state, meta)  # orbax goes on writing in a thread: the kill lands mid-save
  if step == 2:
    os.kill(os.getpid(), signal.SIGKILL)


RunCheckpoints.save = save_then_die
from liifusion_jax.cli.train import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_kill_during_a_save_then_resume_exactly(stage1_runs, tmp_path):
  workdir = tmp_path / "run"
  command = [sys.executable, "-c", KILL_DURING_SAVE, "--config", "configs/stage1.py:quick",
             "--workdir", str(workdir), *(f"--config.{o}" for o in (*TINY, "epochs=2"))]
  killed = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
  loop.train(tiny_config("stage1", 2), workdir)
  assert_trees_equal(load_params(stage1_runs[0])[0], load_params(workdir)[0])
  assert losses(workdir) == losses(stage1_runs[0])


FULL_DISK_AT_FIRST_SAVE = """
import resource, signal, sys
from liifusion_jax.checkpoints.run import RunCheckpoints

save = RunCheckpoints.save


def save_on_a_full_disk(self, step, state, meta):
  signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
  resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
  save(self, step, state, meta)


RunCheckpoints.save = save_on_a_full_disk
from liifusion_jax.cli.train import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_failed_save_ends_in_one_line(tmp_path):
  command = [sys.executable, "-c", FULL_DISK_AT_FIRST_SAVE, "--config", "configs/stage1.py:quick",
             "--workdir", str(tmp_path), *(f"--config.{o}" for o in (*TINY, "epochs=2"))]
  failed = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
  assert failed.returncode == 1
  assert "Traceback" not in failed.stderr, failed.stderr[-3000:]
  errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1 and "writing a checkpoint" in errors[0] and "File too large" in errors[0], errors
  assert checkpoint_steps(tmp_path) == []


def test_a_long_storage_error_keeps_what_failed():
  error = OSError("OUT_OF_RANGE: Error writing \"params.decoder.bias/0\" in OCDBT data " + "x" * 300
                  + ": Failed to write 5591744 bytes to file 14: File too large [os_error_code='27'] "
                  "[tensorstore_spec='{\"driver\":\"ocdbt\"," + "\"k\":1," * 80 + "\"store\":true}']")
  text = reason(error)
  assert len(text) <= 160 and text.startswith("OUT_OF_RANGE: Error writing") and text.endswith(
      "File too large [os_error_code='27']"), text
  # tensorstore also writes its spec between the OS's words and the code.
  error = OSError("OUT_OF_RANGE: Error writing \"manifest.ocdbt\": File too large [tensorstore_spec='{"
                  + "\"k\":[1]," * 80 + "\"store_data_equal_to_fill_value\":true}'] [os_error_code='27']")
  text = reason(error)
  assert len(text) <= 160 and text.endswith("File too large [os_error_code='27']"), text


SIGNAL_AFTER_STEP_3 = """
import os, sys
from liifusion_jax.train import preemption

reached = preemption.StopRequest.reached
signum = int(sys.argv.pop(1))


def signal_after_step_3(self, step):
  if step == 3:
    os.kill(os.getpid(), signum)  # as a scheduler would, between two steps' checks
  return reached(self, step)


preemption.StopRequest.reached = signal_after_step_3
from liifusion_jax.cli.train import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("signum, code, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")])
def test_a_signal_saves_the_step_then_the_rerun_resumes_exactly(signum, code, name, stage1_runs, tmp_path):
  workdir = tmp_path / "run"
  command = [sys.executable, "-c", SIGNAL_AFTER_STEP_3, str(int(signum)), "--config", "configs/stage1.py:quick",
             "--workdir", str(workdir), *(f"--config.{o}" for o in (*TINY, "epochs=2"))]
  stopped = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
  assert stopped.returncode == code, stopped.stderr[-3000:]
  assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
  assert f"stopped on {name} after step 3; saved {workdir / 'checkpoints' / '3'}" in stopped.stderr
  assert checkpoint_steps(workdir) == [2, 3]  # 3 is no periodic save (every 2 steps here)
  loop.train(tiny_config("stage1", 2), workdir)
  assert_trees_equal(load_params(stage1_runs[0])[0], load_params(workdir)[0])
  assert losses(workdir) == losses(stage1_runs[0])


FAILED_SAVE_THEN_CHECK = """
import resource, signal, sys, time
import numpy as np
from liifusion_jax.checkpoints.errors import CheckpointError
from liifusion_jax.checkpoints.run import RunCheckpoints

checkpoints = RunCheckpoints(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, resource.RLIM_INFINITY))
checkpoints.save(1, {"w": np.random.default_rng(0).random((1000, 1000), np.float32)}, {"stage": "stage1"})
while checkpoints.manager.is_saving_in_progress():  # the write fails in orbax's thread
  time.sleep(0.05)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
try:
  checkpoints.check()
except CheckpointError as error:
  print("reported:", error)
"""


def test_a_failed_asynchronous_save_is_reported_without_waiting_for_the_next(tmp_path):
  done = subprocess.run([sys.executable, "-c", FAILED_SAVE_THEN_CHECK, str(tmp_path)], cwd=REPO,
                        capture_output=True, text=True)
  assert "reported: writing a checkpoint" in done.stdout and "File too large" in done.stdout, (
      done.stdout + done.stderr[-3000:])


def test_a_torn_last_metrics_line_is_dropped_on_resume(stage1_runs, tmp_path, capsys):
  straight = stage1_runs[0]
  workdir = shutil.copytree(straight, tmp_path / "run")
  shutil.rmtree(workdir / "checkpoints" / "4")  # killed after step 4's row, before its save
  with (workdir / "metrics.jsonl").open("a") as f:
    f.write('{"step": 5, "loss": 0.0')  # and in the middle of writing another row
  loop.train(tiny_config("stage1", 2), workdir)
  assert "the last line is incomplete" in capsys.readouterr().out
  assert losses(workdir) == losses(straight)  # every row parses: the torn one is gone


def test_a_second_restart_keeps_the_first_restarts_rows(tmp_path):
  for rows in ("first run\n", "second run\n"):
    (tmp_path / "metrics.jsonl").write_text(rows)
    earlier_run.set_aside(tmp_path, "{}")
  assert (tmp_path / "metrics.before_restart.jsonl").read_text() == "first run\n"
  assert (tmp_path / "metrics.before_restart2.jsonl").read_text() == "second run\n"


def test_a_damaged_metrics_line_before_the_last_is_a_one_line_error(tmp_path):
  (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n{"step": 2, "lo\n{"step": 3}\n')
  with pytest.raises(TrainingError, match="line 2 is not a JSON record"):
    metrics_log.read_rows(tmp_path / "metrics.jsonl")


@NO_ABANDONED_READS_SHOWN
def test_no_silent_restart_when_no_checkpoint_can_be_read(stage1_runs, tmp_path, capsys):
  workdir = shutil.copytree(stage1_runs[0], tmp_path / "run")
  for step in (2, 4):
    _truncate_largest_array(workdir / "checkpoints" / str(step))
  before = fingerprint(workdir)
  with pytest.raises(CheckpointError, match=r"no checkpoint in .* can be read \(steps 4, 2\); nothing "
                                            r"was changed: start over with --config.restart=True"):
    loop.train(tiny_config("stage1", 2), workdir)
  assert fingerprint(workdir) == before
  loop.train(tiny_config("stage1", 1, "restart=True"), workdir)
  assert checkpoint_steps(workdir) == [2]
  assert {p.name for p in (workdir / "checkpoints").iterdir()} >= {"2.unreadable", "4.unreadable"}
  assert (workdir / "metrics.before_restart.jsonl").read_text() == (
      stage1_runs[0] / "metrics.jsonl").read_text()
  assert max(losses(workdir)) == 2
