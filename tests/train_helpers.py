"""Tiny training runs for the tests: configs that train in seconds, and comparisons of their results."""
import collections
import io
import json
import struct

import jax
import numpy as np
from PIL import Image
from tensorboardX.proto import event_pb2
from tensorboardX.record_writer import masked_crc32c

from conftest import REPO
from liifusion_jax.config import apply_overrides, load_config

TINY = ["data.patch=16", "batch_size=2", "data.sample_q=64", "data.scale_max=2.0", "steps_per_epoch=2",
        "val.crop=48", "val.scales=(2.0,)", "save_every_epochs=1", "val.every_epochs=2",
        "log_every_steps=1", "data.num_workers=0"]


def tiny_config(stage, epochs, *extra):
  config = load_config(f"{REPO}/configs/{stage}.py:quick")
  return apply_overrides(config, [*TINY, f"epochs={epochs}", *extra])


def records(workdir):
  return [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]


def losses(workdir):
  return {r["step"]: r.get("loss", r.get("g_loss")) for r in records(workdir)
          if "loss" in r or "g_loss" in r}


def checkpoint_steps(workdir):
  return sorted(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())


def assert_trees_equal(a, b):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _event_records(path):
  """The events of one event file, each record's length and data checked against their CRCs."""
  data, at = path.read_bytes(), 0
  while at < len(data):
    header = data[at:at + 8]
    (length,) = struct.unpack("<Q", header)
    assert struct.unpack("<I", data[at + 8:at + 12])[0] == masked_crc32c(header), path
    body = data[at + 12:at + 12 + length]
    assert struct.unpack("<I", data[at + 12 + length:at + 16 + length])[0] == masked_crc32c(body), path
    yield event_pb2.Event.FromString(body)
    at += 16 + length


def tensorboard_events(run_dir):
  """({tag: {step: value}}, {tag: {step: HWC uint8 image}}) of the event files in `run_dir` (not its
  subfolders), as TensorBoard shows them: a SessionLog.START at step s hides the earlier files'
  events at steps >= s."""
  shown = collections.defaultdict(dict), collections.defaultdict(dict)
  for path in sorted(run_dir.glob("events.out.tfevents.*")):  # the names start with the time
    for event in _event_records(path):
      if event.HasField("session_log") and event.session_log.status == event_pb2.SessionLog.START:
        for by_step in (*shown[0].values(), *shown[1].values()):
          for step in [s for s in by_step if s >= event.step]:
            del by_step[step]
      for value in event.summary.value:
        if value.HasField("image"):
          png = io.BytesIO(value.image.encoded_image_string)
          shown[1][value.tag][event.step] = np.asarray(Image.open(png))
        else:
          shown[0][value.tag][event.step] = value.simple_value
  return tuple({tag: by_step for tag, by_step in kind.items() if by_step} for kind in shown)
