"""Shared pieces of the command-line tests: test images, the one-line user-error check, and faults of
the file system (a full disk, a read-only folder)."""
import contextlib
import os
import resource
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO


def smooth_photo(h, w, seed=0):
  """A smooth random colour image (bicubic PSNR of noise would say little)."""
  rng = np.random.default_rng(seed)
  small = rng.uniform(0, 255, (h // 4 + 2, w // 4 + 2, 3)).astype(np.uint8)
  return np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC))


def random_png_folder(path, shapes, seed=0):
  """Random 8-bit RGB PNGs 0.png, 1.png, ... of the given (H, W) in a new folder; returns the arrays."""
  rng = np.random.default_rng(seed)
  path.mkdir()
  arrays = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
  for i, a in enumerate(arrays):
    Image.fromarray(a).save(path / f"{i}.png")
  return arrays


def exit_status(main, argv):
  """The exit status of `main(argv)`: what it returns, or the code of the SystemExit it raises."""
  try:
    return main(argv)
  except SystemExit as end:
    return end.code


def one_line_user_error(main, argv, capsys):
  """Runs `main(argv)`, expecting a nonzero exit with one stderr line and no traceback; returns it."""
  with pytest.raises(SystemExit) as exc:
    main(argv)
  err = capsys.readouterr().err
  assert exc.value.code not in (0, None)
  assert "Traceback" not in err
  lines = [line for line in err.splitlines() if line.strip()]
  assert len(lines) == 1, err
  return lines[0]


@contextlib.contextmanager
def full_disk(free_bytes):
  """Inside the block a file fails to grow past `free_bytes` (File too large), as on a full disk."""
  handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel ends the process
  limits = resource.getrlimit(resource.RLIMIT_FSIZE)
  resource.setrlimit(resource.RLIMIT_FSIZE, (free_bytes, limits[1]))
  try:
    yield
  finally:
    resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    signal.signal(signal.SIGXFSZ, handler)


def run_where_permissions_hold(script, *args):
  """Runs `python script args` from the repository. Root writes into read-only folders, so as root
  it runs without root's capabilities (setpriv), where folder permissions hold as for a user."""
  argv = [sys.executable, str(REPO / script), *map(str, args)]
  if os.geteuid() == 0:
    if shutil.which("setpriv") is None:
      pytest.skip("root writes into read-only folders and setpriv (util-linux) is missing")
    argv = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", *argv]
  return subprocess.run(argv, cwd=REPO, capture_output=True, text=True,
                        env={**os.environ, "PYTHONPATH": str(REPO)})
