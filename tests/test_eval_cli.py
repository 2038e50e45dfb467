import json
import os

import jax
import numpy as np
import pytest
from PIL import Image

from liifusion_jax.cli import eval as eval_cli
from liifusion_jax.data.images import load_image
from liifusion_jax.evaluation import protocols
from liifusion_jax.inference.upscaler import Upscaler
from cli_helpers import one_line_user_error, run_where_permissions_hold, smooth_photo


def _write_folder(folder, sizes, seed=0):
  folder.mkdir(parents=True, exist_ok=True)
  for i, (h, w) in enumerate(sizes):
    Image.fromarray(smooth_photo(h, w, seed + i)).save(folder / f"img{i}.png")
  return folder


def _run(argv, capsys):
  code = eval_cli.main(argv)
  out, err = capsys.readouterr()
  return code, out, err


@pytest.mark.parametrize("protocol", ["benchmark", "div2k"])
def test_bicubic_json_matches_direct_score(tmp_path, capsys, protocol):
  folder = _write_folder(tmp_path / "mini", [(40, 52), (45, 38)])
  # Greyscale, RGBA and 16-bit greyscale files are read as RGB.
  Image.fromarray(smooth_photo(44, 40, 7)[..., 0]).save(folder / "grey.png")
  Image.fromarray(np.dstack([smooth_photo(40, 44, 8), np.full((40, 44), 128, np.uint8)])).save(folder / "rgba.png")
  Image.fromarray((smooth_photo(42, 42, 9)[..., 1].astype(np.uint16) * 257)).save(folder / "wide.png")
  out_json = tmp_path / "out" / "results.json"
  scales = [2.0, 3.0, 5.3]
  code, out, _ = _run(["--method", "bicubic", "--data", str(folder), "--scales", "2,3,5.3",
                       "--protocol", protocol, "--json", str(out_json)], capsys)
  assert code == 0
  report = json.loads(out_json.read_text())
  rows = report["results"]
  assert [(r["dataset"], r["scale"]) for r in rows] == [("mini", s) for s in scales]
  paths = sorted(folder.iterdir())
  for row in rows:
    assert set(row) >= {"dataset", "scale", "psnr", "lpips", "images", "seconds"}
    assert row["images"] == 5 and row["skipped"] == 0 and row["lpips"] is None and row["lr"] == "made"
    assert row["bicubic_psnr"] is None  # no baseline beside bicubic itself
    expected = []
    for p in paths:
      lr, hr = protocols.make_pair(load_image(p), row["scale"], protocol)
      sr = protocols.bicubic_upscale(lr, hr.shape[:2], protocol)
      expected.append(protocols.score(sr, hr, row["scale"], protocol))
    assert row["psnr"] == pytest.approx(np.mean(expected), abs=1e-9)
    assert row["seconds"] > 0 and row["peak_host_mib"] > 0
  assert rows[0]["psnr"] > rows[1]["psnr"] > rows[2]["psnr"]
  assert "mini" in out and "x5.3" in out


def test_provided_lr_folder_layout(tmp_path, capsys):
  root = tmp_path / "Bench"
  _write_folder(root / "HR", [(41, 50), (36, 30)])
  lr_dir = root / "LR_bicubic" / "X2"
  lr_dir.mkdir(parents=True)
  # Provided LR images deliberately unlike the made ones, in both naming styles.
  Image.fromarray(smooth_photo(20, 25, 11)).save(lr_dir / "img0x2.png")
  Image.fromarray(smooth_photo(18, 15, 12)).save(lr_dir / "img1.png")
  out_json = tmp_path / "r.json"
  code, _, _ = _run(["--method", "bicubic", "--data", str(root), "--scales", "2,3",
                     "--json", str(out_json)], capsys)
  assert code == 0
  x2, x3 = json.loads(out_json.read_text())["results"]
  assert (x2["dataset"], x2["lr"], x3["lr"]) == ("Bench", "provided", "made")
  expected = []
  for name, lr_name in (("img0.png", "img0x2.png"), ("img1.png", "img1.png")):
    lr = load_image(lr_dir / lr_name)
    hr = load_image(root / "HR" / name)[:2 * lr.shape[0], :2 * lr.shape[1]]
    sr = protocols.bicubic_upscale(lr, hr.shape[:2], "benchmark")
    expected.append(protocols.score(sr, hr, 2, "benchmark"))
  assert x2["psnr"] == pytest.approx(np.mean(expected), abs=1e-9)


def test_too_small_images_are_skipped(tmp_path, capsys):
  folder = _write_folder(tmp_path / "tiny", [(40, 40), (9, 40)])
  out_json = tmp_path / "r.json"
  code, _, err = _run(["--method", "bicubic", "--data", str(folder), "--scales", "4",
                       "--json", str(out_json)], capsys)
  assert code == 0
  row, = json.loads(out_json.read_text())["results"]
  assert (row["images"], row["skipped"]) == (1, 1)
  assert "img1.png" in err and "too small" in err


def test_default_images_bicubic(capsys):
  code, out, _ = _run(["--method", "bicubic", "--scales", "4"], capsys)
  assert code == 0
  assert out.splitlines()[1].split()[:4] == ["default", "x4", "made", "2"]


def test_stage1_checkpoint_with_hr_prior(tmp_path, capsys, stage1_ckpt):
  folder = _write_folder(tmp_path / "m", [(48, 48)])
  out_json = tmp_path / "r.json"
  code, _, _ = _run(["--checkpoint", stage1_ckpt, "--data", str(folder), "--scales", "2,3.7",
                     "--json", str(out_json), "--save-images", str(tmp_path / "sr")], capsys)
  assert code == 0
  report = json.loads(out_json.read_text())
  assert report["stage"] == "stage1"
  for row in report["results"]:
    assert row["images"] == 1 and np.isfinite(row["psnr"]) and row["lpips"] is None
  assert Image.open(tmp_path / "sr" / "m" / "x2" / "img0.png").size == (48, 48)
  # x3.7: LR floor(48 / 3.7) = 12 pixels, HR cropped to round(12 * 3.7) = 44.
  assert Image.open(tmp_path / "sr" / "m" / "x3.7" / "img0.png").size == (44, 44)


def test_stage2_checkpoint_reports_lpips(tmp_path, capsys, stage2_ckpt):
  folder = _write_folder(tmp_path / "m", [(48, 40)])
  out_json = tmp_path / "r.json"
  code, _, _ = _run(["--checkpoint", stage2_ckpt, "--data", str(folder), "--scales", "2",
                     "--seed", "3", "--json", str(out_json)], capsys)
  assert code == 0
  report = json.loads(out_json.read_text())
  row, = report["results"]
  assert report["stage"] == "stage2" and report["seed"] == 3
  assert np.isfinite(row["psnr"]) and 0 < row["lpips"] < 2
  # Bicubic beside the model, on the same pairs.
  lr, hr = protocols.make_pair(load_image(folder / "img0.png"), 2.0, "benchmark")
  bicubic = protocols.bicubic_upscale(lr, hr.shape[:2], "benchmark")
  assert row["bicubic_psnr"] == pytest.approx(protocols.score(bicubic, hr, 2.0, "benchmark"), abs=1e-9)
  assert 0 < row["bicubic_lpips"] < 2 and row["bicubic_lpips"] != row["lpips"]


def test_self_ensemble_flag(tmp_path, capsys, stage1_ckpt):
  """--self-ensemble scores the Upscaler's ensemble (the HR prior moved with the LR), not the model alone."""
  folder = _write_folder(tmp_path / "m", [(40, 44)])
  reports = []
  for flags in ([], ["--self-ensemble"]):
    out_json = tmp_path / f"r{len(flags)}.json"
    code, out, _ = _run(["--checkpoint", stage1_ckpt, "--data", str(folder), "--scales", "2",
                         "--json", str(out_json), *flags], capsys)
    assert code == 0 and ("self-ensemble" in out) == bool(flags)
    reports.append(json.loads(out_json.read_text()))
  assert [r["self_ensemble"] for r in reports] == [0, 8]  # the number of transforms
  lr, hr = protocols.make_pair(load_image(folder / "img0.png"), 2.0, "benchmark")
  sr = Upscaler.from_checkpoint(stage1_ckpt)(lr, hr.shape[:2], hr01=hr, self_ensemble=True)
  plain, ensemble = (r["results"][0]["psnr"] for r in reports)
  assert ensemble == pytest.approx(protocols.score(sr, hr, 2.0, "benchmark"), abs=1e-6)
  assert abs(ensemble - plain) > 1e-3


@pytest.mark.parametrize("argv, words", [
    (["--method", "bicubic", "--data", "/nonexistent/set"], "does not exist"),
    (["--method", "bicubic", "--scales", "0.5"], "expected a number >= 1"),
    (["--method", "bicubic", "--scales", "2,x"], "invalid scale"),
    (["--method", "bicubic", "--protocol", "set5"], "invalid choice"),
    (["--checkpoint", "pretrained:stage3"], "unknown bundled model"),
])
def test_bad_arguments(argv, words, capsys):
  assert words in one_line_user_error(eval_cli.main, argv, capsys)


def test_bad_files(tmp_path, capsys):
  text = tmp_path / "notes.txt"
  text.write_text("not an image")
  assert "cannot read image" in one_line_user_error(eval_cli.main, ["--method", "bicubic", "--data", str(text)], capsys)
  folder = _write_folder(tmp_path / "set", [(40, 40)])
  (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
  assert "broken.png" in one_line_user_error(eval_cli.main, ["--method", "bicubic", "--data", str(folder)], capsys)
  empty = tmp_path / "empty"
  empty.mkdir()
  assert "no images" in one_line_user_error(eval_cli.main, ["--method", "bicubic", "--data", str(empty)], capsys)
  assert "no checkpoint" in one_line_user_error(eval_cli.main, ["--checkpoint", str(empty), "--data", str(folder)], capsys)


def test_outputs_never_replace_inputs_or_existing_files(tmp_path, capsys):
  folder = _write_folder(tmp_path / "x2", [(40, 40)])  # dataset "x2"
  good = folder / "img0.png"
  earlier = tmp_path / "earlier.json"
  earlier.write_text("{}")
  (tmp_path / "saved").mkdir()
  (tmp_path / "saved" / "x2").symlink_to(tmp_path)  # saved/x2/x2/img0.png is the input itself
  before = {p: p.read_bytes() for p in (good, earlier)}
  os.link(good, tmp_path / "hard.json")
  cases = {
      "is one of the inputs": ["--json", str(good)],
      "hard.json is one of the inputs": ["--json", str(tmp_path / "hard.json"), "--overwrite"],
      "exists already; pass --overwrite": ["--json", str(earlier)],
      "x2/x2/img0.png is one of the inputs": ["--save-images", str(tmp_path / "saved")],
  }
  for words, argv in cases.items():
    message = one_line_user_error(eval_cli.main, ["--method", "bicubic", "--scales", "2", "--data",
                                                  str(folder), *argv], capsys)
    assert words in message, message
  assert {p: p.read_bytes() for p in before} == before


def test_unwritable_json_fails_at_once_and_leaves_nothing(tmp_path, capsys):
  (tmp_path / "folder").mkdir()
  (tmp_path / "notes.txt").write_text("a file")
  cases = {
      f"the output {tmp_path / 'folder'} is a folder; name a file": tmp_path / "folder",
      f"cannot write outputs in {tmp_path / 'notes.txt'}: it is not a folder": tmp_path / "notes.txt" / "r.json",
  }
  for message, path in cases.items():
    with pytest.raises(SystemExit):
      eval_cli.main(["--method", "bicubic", "--scales", "2", "--json", str(path), "--overwrite"])
    assert capsys.readouterr() == ("", f"error: {message}\n")  # refused before the first row
  assert sorted(os.listdir(tmp_path)) == ["folder", "notes.txt"] and not os.listdir(tmp_path / "folder")
  read_only = tmp_path / "read_only"
  read_only.mkdir(mode=0o555)
  run = run_where_permissions_hold("eval.py", "--method", "bicubic", "--scales", "2", "--json",
                                   read_only / "r.json")
  assert run.returncode == 1 and run.stdout == "", run
  assert run.stderr.splitlines() == [f"error: cannot write outputs in {read_only}: Permission denied"]


def test_non_finite_weights_are_refused_on_load(tmp_path, capsys):
  from random_checkpoints import CHUNK, random_params

  from liifusion_jax.checkpoints.run import save_params

  diverged = jax.tree.map(lambda x: np.full_like(x, np.nan), random_params("stage1"))
  save_params(tmp_path / "nan", diverged, {"stage": "stage1", "config": {"model": {}, "eval_chunk": CHUNK}})
  folder = _write_folder(tmp_path / "set", [(40, 40)])
  message = one_line_user_error(eval_cli.main, ["--checkpoint", str(tmp_path / "nan"), "--data", str(folder),
                                                "--scales", "2"], capsys)
  assert "nan/checkpoints/0: params/" in message and "holds NaN or inf" in message, message


def test_a_non_finite_output_fails(tmp_path, capsys, monkeypatch):
  """Finite weights can still overflow somewhere: the image is checked before it is scored."""
  from liifusion_jax.inference.upscaler import Upscaler

  monkeypatch.setattr(Upscaler, "__call__", lambda self, lr, hw, **kw: np.full((*hw, 3), np.nan, np.float32))
  folder = _write_folder(tmp_path / "set", [(40, 40)])
  message = one_line_user_error(eval_cli.main, ["--checkpoint", "pretrained:stage1", "--data", str(folder),
                                                "--scales", "2"], capsys)
  where = "the model's output for set/img0.png"
  assert "holds NaN or inf" in message and where in message, message
