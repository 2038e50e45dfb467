"""A run's TensorBoard event files in `<workdir>/tb/`, written by tensorboardX (no TensorFlow).

The numbers of `metrics.jsonl` become curves: training rows under `train/`, validation under `val/`.
Bicubic's validation figures go to a second run, `tb/bicubic/`, under the model's tags, so TensorBoard
draws the model and bicubic in one chart (`val_bicubic_psnr_x2` is `val/psnr_x2` of `tb/bicubic`).
A write that fails (a full disk) is one warning, not tracebacks from tensorboardX's writer threads and
exit handlers: the event files stop there, `metrics.jsonl` keeps the numbers.
"""
import pathlib
import sys
import threading
import time

from tensorboardX import SummaryWriter

from liifusion_jax.resize.matlab_pil import to_uint8

BICUBIC = "bicubic"


def run_and_tag(key):
  """(run, tag) of a metrics.jsonl key: '' is the model's run, BICUBIC the baseline's."""
  if not key.startswith("val_"):
    return "", f"train/{key}"
  name = key.removeprefix("val_")
  if name.startswith(f"{BICUBIC}_"):
    return BICUBIC, f"val/{name.removeprefix(f'{BICUBIC}_')}"
  return "", f"val/{name}"


_failed = []  # the first failed write's error, said once per process


def _report(error, where):
  if not _failed:
    _failed.append(error)
    print(f"warning: TensorBoard's events cannot be written to {where} ({error.strerror or error}); "
          "the event files stop here, metrics.jsonl keeps the numbers", file=sys.stderr)


def _thread_failures(previous):
  """A `threading.excepthook` that reports an OSError of tensorboardX's writer threads in one line."""

  def hook(args):
    if isinstance(args.exc_value, OSError) and type(args.thread).__name__ == "_EventLoggerThread":
      events = getattr(args.thread, "_record_writer", None)
      _report(args.exc_value, getattr(events, "_file_name", "tb/"))
    else:
      previous(args)

  hook.reports_event_writer_failures = True
  return hook


class EventWriter:
  """Scalars and images at a step, in a new file of each run that a background thread writes (flushed
  every two minutes, and on `close`). Each file starts by hiding the events that earlier files hold
  past `start` in TensorBoard: a resumed run writes those steps again."""

  def __init__(self, directory, start=0):
    directory = pathlib.Path(directory)
    # tensorboardX names a file by the second it opens it, and TensorBoard reads the files in name
    # order. The whole clock in nanoseconds after it keeps a run resumed within that second from
    # overwriting the file and sorts the files in time order, also where this run's writers open in
    # the next second (nanoseconds within the second would sort such a file after a later one).
    suffix = f".{time.time_ns()}"
    if not getattr(threading.excepthook, "reports_event_writer_failures", False):
      threading.excepthook = _thread_failures(threading.excepthook)
    self.directory = directory
    self._writers = {run: SummaryWriter(str(directory / run), purge_step=start + 1,
                                        filename_suffix=suffix) for run in ("", BICUBIC)}

  def scalars(self, step, values):
    if _failed:  # the writer threads may have ended: their queues would fill and block
      return
    for key, value in values.items():
      run, tag = run_and_tag(key)
      self._writers[run].add_scalar(tag, value, step)

  def images(self, step, images):
    """`images`: {tag: HWC [0, 1] float image}, rounded to 8 bits as the PNG samples are."""
    if _failed:
      return
    for tag, image in images.items():
      self._writers[""].add_image(tag, to_uint8(image), step, dataformats="HWC")

  def close(self):
    for writer in self._writers.values():
      try:
        writer.close()
      except OSError as error:
        _report(error, self.directory)
        for file_writer in writer.all_writers.values():  # or its exit handler flushes, and fails, again
          file_writer.event_writer._closed = True
