"""Folders holding links back to themselves or their parent: eval.py and upscale.py walk each folder
once (by device and inode) and say so in one line, instead of walking the loop without end."""
import os

from PIL import Image

from liifusion_jax.cli import eval as eval_cli
from liifusion_jax.cli import outputs
from cli_helpers import exit_status, smooth_photo


def _looping_folder(tmp_path):
  """photos/ with an image, two links to itself and one to its parent."""
  photos = tmp_path / "photos"
  photos.mkdir()
  Image.fromarray(smooth_photo(24, 24)).save(photos / "a.png")
  (tmp_path / "other.png").write_bytes(b"beside the folder")
  for name, target in (("self1", "."), ("self2", "."), ("up", "..")):
    (photos / name).symlink_to(target)
  return photos


def test_each_folder_is_walked_once(tmp_path, capsys):
  photos = _looping_folder(tmp_path)
  found = outputs.input_files([str(photos)])
  assert set(found.values()) == {str(photos / "a.png"), str(tmp_path / "other.png")}
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "3 folder link(s) under" in err and "each folder is walked once" in err, err


def test_eval_of_a_looping_folder_ends(tmp_path, capsys):
  photos = _looping_folder(tmp_path)
  assert exit_status(eval_cli.main, ["--method", "bicubic", "--data", str(photos), "--scales", "2"]) == 0
  out = capsys.readouterr().out
  assert "photos" in out.splitlines()[-1] and " 1  " in out.splitlines()[-1], out
