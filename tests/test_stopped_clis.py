"""eval.py and upscale.py stopped by SIGTERM: one line, exit 143, no partial file; `upscale.py
--skip-existing` goes on from there keeping the images written."""
import os
import signal
import subprocess
import sys

import pytest
from PIL import Image

from liifusion_jax.cli import upscale as upscale_cli
from cli_helpers import exit_status, smooth_photo
from conftest import REPO

SIGTERM_WHILE_SAVING_THE_SECOND = """
import os, signal, sys
from PIL import Image
from liifusion_jax.cli.upscale import main

save, saved = Image.Image.save, []

def save_then_signal(self, file, *args, **kwargs):
  saved.append(file)
  save(self, file, *args, **kwargs)
  if len(saved) == 2:  # the second image's bytes are in its partial file, not yet renamed
    os.kill(os.getpid(), signal.SIGTERM)

Image.Image.save = save_then_signal
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_stopped_folder_upscale_goes_on_with_skip_existing(tmp_path, stage2_ckpt, capsys):
  (tmp_path / "in").mkdir()
  for i in range(3):
    Image.fromarray(smooth_photo(20, 24, seed=i)).save(tmp_path / "in" / f"{i}.png")
  argv = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--scale", "2", "--checkpoint", str(stage2_ckpt)]
  stopped = subprocess.run([sys.executable, "-c", SIGTERM_WHILE_SAVING_THE_SECOND, *argv], cwd=REPO,
                           capture_output=True, text=True)
  assert stopped.returncode == 143, stopped.stderr[-3000:]
  assert stopped.stderr.splitlines()[-1] == f"{upscale_cli.INTERRUPTED} (SIGTERM)", stopped.stderr[-3000:]
  assert os.listdir(tmp_path / "out") == ["0.png"]  # no partial file of the second
  first = (tmp_path / "out" / "0.png").read_bytes()
  assert exit_status(upscale_cli.main, argv + ["--skip-existing"]) == 0
  assert "keeping 1 existing output(s): 0.png" in capsys.readouterr().out
  assert sorted(os.listdir(tmp_path / "out")) == ["0.png", "1.png", "2.png"]
  assert (tmp_path / "out" / "0.png").read_bytes() == first
  assert exit_status(upscale_cli.main, argv + ["--skip-existing"]) == 0  # nothing left to do
  assert "keeping 3 existing output(s): 0.png, 1.png, 2.png" in capsys.readouterr().out


SIGTERM_DURING_EVAL = """
import os, signal, sys
from liifusion_jax.cli.eval import main
from liifusion_jax.evaluation import protocols

score = protocols.score
protocols.score = lambda *args: os.kill(os.getpid(), signal.SIGTERM) or score(*args)
sys.exit(main(sys.argv[1:]))
"""


def test_eval_stopped_by_sigterm_says_so_in_one_line(tmp_path):
  (tmp_path / "hr").mkdir()
  Image.fromarray(smooth_photo(48, 48)).save(tmp_path / "hr" / "a.png")
  stopped = subprocess.run([sys.executable, "-c", SIGTERM_DURING_EVAL, "--method", "bicubic", "--data",
                            str(tmp_path / "hr"), "--save-images", str(tmp_path / "sr")], cwd=REPO,
                           capture_output=True, text=True)
  assert stopped.returncode == 143 and stopped.stderr.splitlines()[-1] == "error: interrupted (SIGTERM)", (
      stopped.stderr[-3000:])
  assert "Traceback" not in stopped.stderr and not (tmp_path / "sr").exists()
