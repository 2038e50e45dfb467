"""The error of a run that cannot go on (reported in one line by train.py)."""


class TrainingError(RuntimeError):
  """The workdir is in use by another process, or the losses or parameters stopped being finite."""
