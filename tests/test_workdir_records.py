"""A workdir's records (metrics rows, samples, config.json) across reruns: a run that starts at step 0
sets the earlier run's aside, a damaged config.json is one warning and the resume goes on."""
import json
import shutil

from liifusion_jax.train import loop
from test_fault_injection import fingerprint
from train_helpers import checkpoint_steps, losses, tiny_config


def test_a_rerun_without_checkpoints_keeps_the_earlier_rows_and_samples(stage1_runs, tmp_path, capsys):
  earlier = stage1_runs[0]
  workdir = shutil.copytree(earlier, tmp_path / "run")
  shutil.rmtree(workdir / "checkpoints")  # deleted, or never written: the rerun starts at step 0
  loop.train(tiny_config("stage1", 1), workdir)
  assert ("kept as metrics.before_restart.jsonl, samples.before_restart, config.before_restart.json"
          in capsys.readouterr().out)  # the config too: epochs differ
  assert (workdir / "metrics.before_restart.jsonl").read_text() == (earlier / "metrics.jsonl").read_text()
  assert fingerprint(workdir / "samples.before_restart") == fingerprint(earlier / "samples")
  assert max(losses(workdir)) == 2 and max(losses(earlier)) == 4


def test_a_rerun_with_the_same_config_keeps_config_json_in_place(tmp_path, capsys):
  (tmp_path / "config.json").write_text(tiny_config("stage1", 1).to_json(indent=2))
  (tmp_path / "metrics.jsonl").write_text('{"step": 1}\n')
  loop._save_config(tiny_config("stage1", 1), tmp_path, 0)
  assert capsys.readouterr().out.endswith("kept as metrics.before_restart.jsonl\n")
  assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "metrics.before_restart.jsonl"]


def test_after_a_restart_config_json_describes_the_new_run(stage1_runs, tmp_path):
  workdir = shutil.copytree(stage1_runs[0], tmp_path / "run")
  shutil.rmtree(workdir / "checkpoints")
  loop.train(tiny_config("stage1", 1, "restart=True", "optim.lr=1e-5"), workdir)
  assert json.loads((workdir / "config.json").read_text())["optim"]["lr"] == 1e-5
  assert (workdir / "config.before_restart.json").read_text() == (
      stage1_runs[0] / "config.json").read_text()
  assert not (workdir / "config.resumed.json").exists()


def test_a_damaged_config_json_is_one_warning_and_the_run_resumes(stage1_runs, tmp_path, capsys):
  for text in ('{"stage": "sta', "", "[1, 2]"):  # torn, empty, foreign
    workdir = shutil.copytree(stage1_runs[0], tmp_path / f"run{len(text)}")
    shutil.rmtree(workdir / "checkpoints" / "4")
    (workdir / "config.json").write_text(text)
    loop.train(tiny_config("stage1", 2), workdir)
    out = capsys.readouterr().out
    assert "config.json is damaged" in out and "moved to config.damaged.json" in out, out
    assert "resumed from" in out and checkpoint_steps(workdir) == [2, 4]
    assert (workdir / "config.damaged.json").read_text() == text
    assert json.loads((workdir / "config.json").read_text()) == json.loads(
        (stage1_runs[0] / "config.json").read_text())
