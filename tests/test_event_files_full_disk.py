"""TensorBoard's event files on a disk that fills up: one warning, no traceback from tensorboardX's
writer threads or exit handlers, and logging goes on (metrics.jsonl keeps the numbers)."""
import subprocess
import sys

from conftest import REPO

FILLS_UP = """
import glob, os, resource, signal, sys, time
from liifusion_jax.train.tensorboard_log import EventWriter

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
events = EventWriter(sys.argv[1])
events.scalars(1, {"loss": 1.0})
time.sleep(0.5)  # written
size = max(os.path.getsize(p) for p in glob.glob(os.path.join(sys.argv[1], "events*")))
resource.setrlimit(resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))  # no byte more
for step in range(2, 50):
  events.scalars(step, {"loss": 1.0, "val_bicubic_psnr_x2": 30.0})
time.sleep(0.5)
events.close()
print("closed")
"""


def test_a_full_disk_is_one_warning(tmp_path):
  done = subprocess.run([sys.executable, "-c", FILLS_UP, str(tmp_path / "tb")], cwd=REPO,
                        capture_output=True, text=True, timeout=120)
  assert done.returncode == 0 and done.stdout == "closed\n", done.stderr[-3000:]
  lines = done.stderr.splitlines()
  assert len(lines) == 1 and lines[0].startswith("warning: TensorBoard's events cannot be written to "), (
      done.stderr[-3000:])
  assert "(File too large); the event files stop here, metrics.jsonl keeps the numbers" in lines[0]
