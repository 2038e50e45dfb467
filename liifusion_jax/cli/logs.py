"""The console of the command lines: their own lines, not the libraries' info and warnings."""
from absl import logging as absl_logging


def quiet_logs():
  """Keeps absl's info and warning lines (orbax opening a checkpoint read-only) off the console."""
  absl_logging.set_verbosity(absl_logging.ERROR)
