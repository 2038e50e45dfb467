"""A workdir's records of an earlier run, which a run starting at step 0 would overwrite: set aside.

A run starts at step 0 where the workdir has no readable checkpoint: a first run, `restart=True`, or
a workdir whose `checkpoints/` was deleted. Its metrics rows, samples and config (where it differs)
are then renamed, never dropped: `metrics.jsonl` to `metrics.before_restart.jsonl`, `samples/` to
`samples.before_restart/`, `config.json` to `config.before_restart.json`; a second time to
`...before_restart2...`, and so on.
"""
import pathlib

from liifusion_jax.files import first_unused

RECORDS = ("metrics.jsonl", "samples", "config.json")


def _aside_name(path, number):
  """`metrics.jsonl` -> `metrics.before_restart{number}.jsonl` (no number for 1)."""
  path = pathlib.Path(path)
  return path.with_name(f"{path.stem}.before_restart{number if number > 1 else ''}{path.suffix}")


def set_aside(workdir, config_text):
  """Renames the earlier run's records in `workdir` (a `config.json` holding `config_text`, this
  run's, stays) and prints one line naming them; the names set aside."""
  moved = []
  for name in RECORDS:
    path = pathlib.Path(workdir) / name
    if not path.exists() or (name == "config.json" and _text_or_none(path) == config_text):
      continue
    aside = first_unused(lambda n: _aside_name(path, n))
    path.rename(aside)
    moved.append(aside.name)
  if moved:
    print(f"note: {workdir} holds an earlier run's records and this run starts at step 0; they are "
          f"kept as {', '.join(moved)}")
  return moved


def _text_or_none(path):
  try:
    return path.read_text()
  except (OSError, UnicodeDecodeError):
    return None
