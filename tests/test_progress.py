"""Progress of long work on stderr: nothing for short work, plain lines off a terminal, a line rewritten
in place on one; the upscaler's chunks counted exactly; upscale.py and eval.py report it."""
import io

import numpy as np
import pytest
from PIL import Image

from liifusion_jax import progress as progress_module
from liifusion_jax.cli import eval as eval_cli
from liifusion_jax.cli import upscale as upscale_cli
from liifusion_jax.inference import region, tiled_upscale
from liifusion_jax.inference.upscaler import Upscaler
from liifusion_jax.progress import Progress
from cli_helpers import smooth_photo


class Clock:
  def __init__(self):
    self.now = 100.0

  def __call__(self):
    return self.now


class Terminal(io.StringIO):
  def isatty(self):
    return True


def _plain_report(total, seconds_each):
  """What a `Progress` (3 s delay, a line every 5 s) writes off a terminal for `total` units of
  `seconds_each` seconds each."""
  stream, clock = io.StringIO(), Clock()
  report = Progress("upscaling", "chunks", stream=stream, delay=3, every=5, clock=clock)
  for done in range(1, total + 1):
    clock.now += seconds_each
    report(done, total)
  return stream.getvalue()


def test_short_work_prints_nothing():
  assert _plain_report(10, 0.25) == ""


def test_plain_lines_every_few_seconds_with_the_time_left():
  assert _plain_report(20, 1.0).splitlines() == [
      "upscaling: 3/20 chunks (15%), 0:03 so far, about 0:17 left",
      "upscaling: 8/20 chunks (40%), 0:08 so far, about 0:12 left",
      "upscaling: 13/20 chunks (65%), 0:13 so far, about 0:07 left",
      "upscaling: 18/20 chunks (90%), 0:18 so far, about 0:02 left",
      "upscaling: 20/20 chunks (100%), done in 0:20",
  ]


def test_a_terminal_line_is_rewritten_and_messages_do_not_break_it():
  stream, clock = Terminal(), Clock()
  report = Progress("Set5 x4", "images", stream=stream, delay=3, clock=clock)
  clock.now += 4
  report(2.5, 5)
  report.write("warning: skipped baby.png")
  clock.now += 4
  report(5, 5)
  assert stream.getvalue() == ("\rSet5 x4: 2.5/5 images (50%), 0:04 so far, about 0:04 left\033[K"
                               "\r\033[Kwarning: skipped baby.png\n"
                               "\rSet5 x4: 5/5 images (100%), done in 0:08\033[K\n")


@pytest.mark.parametrize("ensemble, calls_per_chunk", [(False, 1), (True, 8), (4, 4)])
def test_the_upscaler_reports_every_chunk_of_the_total(ensemble, calls_per_chunk, stage2_ckpt):
  lr = smooth_photo(20, 36).astype(np.float32) / 255
  upscaler = Upscaler.from_checkpoint(stage2_ckpt, chunk=500)
  calls = []
  out = upscaler(lr, (50, 90), seed=1, self_ensemble=ensemble, progress=lambda *c: calls.append(c))
  total = upscaler.chunks((20, 36), (50, 90)) * calls_per_chunk
  assert total == calls_per_chunk * -(-50 * 90 // 500)
  assert calls == [(done, total) for done in range(1, total + 1)]
  np.testing.assert_array_equal(out, upscaler(lr, (50, 90), seed=1, self_ensemble=ensemble))


def test_the_upscaler_counts_the_chunks_of_each_tile(stage2_ckpt):
  """Each output pixel is decoded by one tile; each tile's last chunk is padded."""
  upscaler = Upscaler.from_checkpoint(stage2_ckpt, chunk=1000, tile=16)
  window = ((0, 0), (50, 1000))
  blocks = [region.output_block(start, stop, (20, 400), (50, 1000), window)
            for _, _, start, stop in tiled_upscale.feature_windows((20, 400), upscaler.tile)]
  areas = [(r1 - r0) * (c1 - c0) for (r0, r1), (c0, c1) in blocks]
  assert len(blocks) > 1 and sum(areas) == 50 * 1000
  assert upscaler.chunks((20, 400), (50, 1000)) == sum(-(-a // 1000) for a in areas) > 50


@pytest.fixture
def at_once(monkeypatch):
  """Progress shown from the first report, every report."""
  monkeypatch.setattr(progress_module, "DELAY", 0.0)
  monkeypatch.setattr(progress_module, "EVERY", 0.0)


def test_upscale_py_shows_a_single_image_and_a_folder(tmp_path, stage2_ckpt, at_once, capsys):
  src = tmp_path / "in"
  src.mkdir()
  for name in ("a.png", "b.png"):
    Image.fromarray(smooth_photo(20, 24)).save(src / name)
  model = ["--scale", "2", "--chunk", "400", "--checkpoint", stage2_ckpt]
  assert upscale_cli.main([str(src / "a.png"), str(tmp_path / "a.png"), *model]) == 0
  err = capsys.readouterr().err.splitlines()
  assert err[0].startswith("upscaling a.png: 1/5 query chunks (20%), ") and "left" in err[0]
  assert err[-1].startswith("upscaling a.png: 5/5 query chunks (100%), done in ")
  assert upscale_cli.main([str(src), str(tmp_path / "out"), *model]) == 0
  err = capsys.readouterr().err.splitlines()
  assert err[0].startswith("upscaling: 0.2/2 images (10%), ") and err[5].startswith("upscaling: 1/2 images")
  assert err[-1].startswith("upscaling: 2/2 images (100%), done in ")


def test_eval_py_shows_each_row(tmp_path, stage2_ckpt, at_once, capsys):
  data = tmp_path / "data"
  data.mkdir()
  for name in ("a.png", "b.png"):
    Image.fromarray(smooth_photo(24, 24)).save(data / name)
  assert eval_cli.main(["--checkpoint", stage2_ckpt, "--scales", "2", "--data", str(data),
                        "--chunk", "100"]) == 0
  err = capsys.readouterr().err.splitlines()
  assert err[0].startswith("data x2: 0/2 images (0%), ")
  assert any(line.startswith("data x2: 1.5/2 images (75%), ") for line in err), err
  assert err[-1].startswith("data x2: 2/2 images (100%), done in ")
