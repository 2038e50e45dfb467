import os

import numpy as np
import pytest
from PIL import Image

from liifusion_jax.cli import upscale as upscale_cli
from liifusion_jax.data import images
from liifusion_jax.inference.upscaler import Upscaler
from cli_helpers import full_disk, one_line_user_error, run_where_permissions_hold, smooth_photo


def test_scale_keeps_the_input_format(tmp_path, stage2_ckpt):
  src = tmp_path / "in.jpg"
  Image.fromarray(smooth_photo(20, 24)).save(src)
  assert upscale_cli.main([str(src), "-o", str(tmp_path / "out") + "/", "--checkpoint", stage2_ckpt,
                           "--scale", "2.5"]) == 0
  with Image.open(tmp_path / "out" / "in.jpg") as im:
    assert (im.format, im.size, im.mode) == ("JPEG", (60, 50), "RGB")


def test_size_and_seed(tmp_path, stage2_ckpt):
  src = tmp_path / "in.png"
  Image.fromarray(smooth_photo(20, 24)).save(src)
  outputs = []
  for seed in (0, 5):
    out = tmp_path / f"seed{seed}.png"
    assert upscale_cli.main([str(src), "-o", str(out), "--checkpoint", stage2_ckpt, "--size", "64x48",
                             "--seed", str(seed)]) == 0
    with Image.open(out) as im:
      assert (im.format, im.size) == ("PNG", (64, 48))
      outputs.append(np.asarray(im))
  assert np.any(outputs[0] != outputs[1])  # the prior is sampled from the seeded noise


def test_self_ensemble(tmp_path, stage2_ckpt):
  """--self-ensemble [N] writes the Upscaler's ensemble of N (bare: 8) with the given seed, not the model
  alone."""
  src = tmp_path / "in.png"
  Image.fromarray(smooth_photo(20, 24)).save(src)
  outputs = []
  for flags in ([], ["--self-ensemble"], ["--self-ensemble", "4"]):
    out = tmp_path / f"out{len(flags)}.png"
    assert upscale_cli.main([str(src), "-o", str(out), "--checkpoint", stage2_ckpt, "--scale", "2",
                             "--seed", "2", *flags]) == 0
    outputs.append(images.load_image(out))
  upscaler = Upscaler.from_checkpoint(stage2_ckpt)
  for got, size in zip(outputs[1:], (8, 4)):
    want = upscaler(images.load_image(src), (40, 48), seed=2, self_ensemble=size)
    np.testing.assert_array_equal(got, images.as_float01(images.to_uint8(want)))
  assert np.any(outputs[0] != outputs[1]) and np.any(outputs[1] != outputs[2])


def test_folder_in_folder_out(tmp_path, stage2_ckpt, capsys):
  src = tmp_path / "in"
  src.mkdir()
  Image.fromarray(smooth_photo(20, 24, 1)).save(src / "a.bmp")
  Image.fromarray(smooth_photo(20, 24, 2)[..., 0]).save(src / "b.png")  # greyscale
  Image.fromarray(np.dstack([smooth_photo(20, 24, 3), np.full((20, 24), 200, np.uint8)])).save(src / "c.png")
  Image.fromarray(smooth_photo(20, 24, 4)[..., 2].astype(np.uint16) * 257).save(src / "e.png")  # 16-bit
  (src / "d.png").write_bytes(b"not a png at all")
  with pytest.raises(SystemExit) as exc:  # a bad file fails the run, after the others are done
    upscale_cli.main([str(src), "-o", str(tmp_path / "out"), "--checkpoint", stage2_ckpt, "--scale", "2"])
  assert exc.value.code == 1
  out, err = capsys.readouterr()
  assert "d.png" in err and "1 of 5 images failed" in err and "Traceback" not in err
  assert "wrote 4 images" in out
  for name, fmt in (("a.bmp", "BMP"), ("b.png", "PNG"), ("c.png", "PNG"), ("e.png", "PNG")):
    with Image.open(tmp_path / "out" / name) as im:
      assert (im.format, im.size) == (fmt, (48, 40))
  assert not (tmp_path / "out" / "d.png").exists()


def test_stage1_checkpoint_refused(tmp_path, stage1_ckpt, capsys):
  src = tmp_path / "in.png"
  Image.fromarray(smooth_photo(20, 24)).save(src)
  message = one_line_user_error(upscale_cli.main, [str(src), "-o", str(tmp_path / "o.png"), "--checkpoint", stage1_ckpt,
                         "--scale", "2"], capsys)
  assert "stage1" in message and "HR image" in message and "stage-2" in message


@pytest.mark.parametrize("case, words", [
    ("missing", "does not exist"),
    ("not_an_image", "cannot read image"),
    ("corrupt", "cannot read image"),
    ("scale_below_1", "expected a number >= 1"),
    ("size_too_small", "smaller than the input"),
    ("bad_size", "invalid size"),
    ("scale_and_size", "not allowed with"),
    ("no_checkpoint", "no checkpoint"),
    ("unwritable_format", "no writer"),
    ("folder_onto_itself", "would be overwritten"),
    ("bad_tile", "multiple of 8"),
])
def test_bad_input(case, words, tmp_path, capsys):
  good = tmp_path / "in.png"
  Image.fromarray(smooth_photo(20, 24)).save(good)
  empty = tmp_path / "empty"
  empty.mkdir()
  text = tmp_path / "notes.txt"
  text.write_text("hello")
  corrupt = tmp_path / "corrupt.png"
  corrupt.write_bytes(good.read_bytes()[:60])
  out = str(tmp_path / "out.png")
  argv = {
      "missing": [str(tmp_path / "nope.png"), "-o", out, "--scale", "2"],
      "not_an_image": [str(text), "-o", out, "--scale", "2"],
      "corrupt": [str(corrupt), "-o", out, "--scale", "2"],
      "scale_below_1": [str(good), "-o", out, "--scale", "0.9"],
      "size_too_small": [str(good), "-o", out, "--size", "30x19"],
      "bad_size": [str(good), "-o", out, "--size", "30by40"],
      "scale_and_size": [str(good), "-o", out, "--scale", "2", "--size", "48x40"],
      "no_checkpoint": [str(good), "-o", out, "--scale", "2"],
      "unwritable_format": [str(good), "-o", str(tmp_path / "out.xyz"), "--scale", "2"],
      "folder_onto_itself": [str(tmp_path), "-o", str(tmp_path), "--scale", "2"],
      "bad_tile": [str(good), "-o", out, "--scale", "2", "--tile", "12"],
  }[case]
  assert words in one_line_user_error(upscale_cli.main, argv + ["--checkpoint", str(empty)], capsys)
  assert not (tmp_path / "out.png").exists()


def test_outputs_never_replace_inputs_or_existing_files(tmp_path, capsys):
  """Refused before the checkpoint is read, so none is needed; the files stay as they were."""
  photos = tmp_path / "photos"
  photos.mkdir()
  victim = photos / "victim.png"
  Image.fromarray(smooth_photo(20, 24)).save(victim)
  (tmp_path / "link").symlink_to(photos)
  (tmp_path / "done.png").write_bytes(b"an earlier result")
  before = {p: p.read_bytes() for p in (victim, tmp_path / "done.png")}
  cases = {
      "is one of the inputs": [str(victim), "-o", str(victim)],
      "would be overwritten": [str(photos), "-o", str(tmp_path / "link")],  # a symlink to the input
      "exists already; pass --overwrite": [str(victim), "-o", str(tmp_path / "done.png")],
  }
  for words, argv in cases.items():
    message = one_line_user_error(upscale_cli.main, argv + ["--scale", "2", "--checkpoint", "none"], capsys)
    assert words in message, message
  assert {p: p.read_bytes() for p in before} == before
  # A hard link is the input by another name: refused with --overwrite too (by device and inode).
  os.link(victim, tmp_path / "hard.png")
  message = one_line_user_error(upscale_cli.main, [str(victim), "-o", str(tmp_path / "hard.png"), "--scale",
                                                   "2", "--checkpoint", "none", "--overwrite"], capsys)
  assert "hard.png is one of the inputs" in message, message
  assert victim.read_bytes() == before[victim]
  # --overwrite lets the existing output through (to the checkpoint, which is missing here)
  message = one_line_user_error(upscale_cli.main, [str(victim), "-o", str(tmp_path / "done.png"),
                                                   "--scale", "2", "--checkpoint", "none", "--overwrite"],
                                capsys)
  assert "checkpoint path not found" in message


@pytest.mark.parametrize("scale", ["1000", "1e9"])
def test_outputs_over_the_pixel_budget_need_force(scale, tmp_path, capsys):
  src = tmp_path / "in.png"
  Image.fromarray(smooth_photo(64, 64)).save(src)
  message = one_line_user_error(upscale_cli.main, [str(src), "-o", str(tmp_path / "o.png"), "--scale", scale,
                                                   "--checkpoint", "none"], capsys)
  assert "over the budget of 67.1 (8192x8192); pass --force" in message


def test_a_failed_write_keeps_the_earlier_output_and_leaves_nothing_behind(tmp_path, stage2_ckpt,
                                                                          monkeypatch, capsys):
  photos = tmp_path / "photos"
  photos.mkdir()
  Image.fromarray(smooth_photo(20, 24)).save(photos / "a.png")
  out = tmp_path / "out"
  out.mkdir()
  earlier = (photos / "a.png").read_bytes()
  (out / "a.png").write_bytes(earlier)  # an earlier good output
  save = images.save_image

  def save_on_a_full_disk(path, image):
    with full_disk(1024):
      save(path, image)

  monkeypatch.setattr(images, "save_image", save_on_a_full_disk)
  model = ["--scale", "4", "--checkpoint", stage2_ckpt]
  message = one_line_user_error(upscale_cli.main, [str(photos / "a.png"), "-o", str(out / "a.png"),
                                                   "--overwrite", *model], capsys)
  assert message == f"error: [Errno 27] File too large: '{out / 'a.png'}'"
  message = one_line_user_error(upscale_cli.main, [str(photos / "a.png"), "-o", str(out / "new.png"), *model],
                                capsys)
  assert "File too large" in message, message
  with pytest.raises(SystemExit):  # a folder: each failed image is a warning
    upscale_cli.main([str(photos), "-o", str(tmp_path / "out2"), *model])
  assert "File too large" in capsys.readouterr().err
  assert os.listdir(out) == ["a.png"] and (out / "a.png").read_bytes() == earlier
  assert os.listdir(tmp_path / "out2") == []


def test_a_read_only_output_folder_fails_before_any_work(tmp_path):
  src = tmp_path / "in"
  src.mkdir()
  Image.fromarray(smooth_photo(20, 24)).save(src / "a.png")
  read_only = tmp_path / "read_only"
  read_only.mkdir(mode=0o555)
  for output in (read_only / "out", read_only / "a.png"):  # the folder's and a file's parent
    # No checkpoint: a run that went on to the model would end in "checkpoint path not found".
    run = run_where_permissions_hold("upscale.py", src if output.name == "out" else src / "a.png", "-o",
                                     output, "--scale", "2", "--checkpoint", tmp_path / "none")
    assert run.returncode == 1 and run.stdout == "", run
    assert run.stderr.splitlines() == [f"error: cannot write outputs in {read_only}: Permission denied"]
