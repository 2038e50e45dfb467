"""A run's metrics: `metrics.jsonl`, one JSON object a line, appended as training goes, read back on
resume and by the exporter (a crash can leave the last line half-written: readers drop it with a
warning), and the same numbers plus the validation samples as TensorBoard events in `tb/`."""
import json
import pathlib

import jax

from liifusion_jax.files import written_whole
from liifusion_jax.train.errors import TrainingError
from liifusion_jax.train.tensorboard_log import EventWriter


def read_rows(path):
  """The records of a metrics file ([] where it does not exist); a torn last line is dropped, with a
  warning; a bad line before it is a TrainingError (that is damage, not a crash mid-write)."""
  path = pathlib.Path(path)
  if not path.is_file():
    return []
  lines = path.read_text().splitlines()
  rows = []
  for number, line in enumerate(lines, 1):
    try:
      rows.append(json.loads(line))
    except json.JSONDecodeError:
      if number < len(lines):
        raise TrainingError(f"{path}: line {number} is not a JSON record; the file is damaged: "
                            "move it aside to go on") from None
      print(f"warning: {path}: the last line is incomplete (a crash while it was written); it is ignored")
  return rows


class Logger:
  """Metrics to stdout (through tqdm), to metrics.jsonl and, with `tensorboard`, to event files in
  `<workdir>/tb/`; silent on processes other than 0. `begin` starts the writing."""

  def __init__(self, workdir, tensorboard=True):
    self.primary = jax.process_index() == 0
    self.path = pathlib.Path(workdir) / "metrics.jsonl"
    self.tensorboard = tensorboard and self.primary
    self.events = None

  def __call__(self, record, bar=None, curves=True):
    """Appends `record` (its "step" and numbers); `curves=False` keeps a one-off record (the final
    sample's) out of TensorBoard."""
    if not self.primary:
      return
    with self.path.open("a") as f:
      f.write(json.dumps(record) + "\n")
    text = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items())
    (bar.write if bar is not None else print)(text)
    if curves and self.events is not None:
      self.events.scalars(record["step"], {k: v for k, v in record.items()
                                           if k != "step" and isinstance(v, (int, float))})

  def images(self, step, images):
    """{tag: HWC [0, 1] image} at `step`, to TensorBoard only."""
    if self.events is not None:
      self.events.images(step, images)

  def begin(self, step):
    """Starts the writing at `step` (0, or the resumed one): keeps the rows up to it (a resumed run
    logs the later steps again) and drops a torn last line, so that the next row starts a line of its
    own; TensorBoard hides the earlier events past it."""
    if self.tensorboard:
      self.events = EventWriter(self.path.with_name("tb"), start=step)
    if not self.primary or not self.path.exists():
      return
    text = self.path.read_text()
    kept = [row for row in read_rows(self.path) if row.get("step", 0) <= step]
    new_text = "".join(json.dumps(row) + "\n" for row in kept)
    if new_text != text:
      with written_whole(self.path, "w") as file:
        file.write(new_text)

  def close(self):
    """Closes the event files (their writer threads end); later records go to metrics.jsonl only."""
    if self.events is not None:
      self.events.close()
      self.events = None
