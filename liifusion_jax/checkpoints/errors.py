"""The error of a checkpoint or inference file that cannot be used, and the stage check both make."""


class CheckpointError(ValueError):
  """A checkpoint that is missing, unreadable or of the wrong kind."""


def check_stage(meta, expected, where):
  """Refuses a checkpoint whose `meta` names another stage than `expected` (None: any stage)."""
  stage = meta.get("stage")
  if expected is not None and stage != expected:
    raise CheckpointError(
        f"{where} is a {stage} checkpoint, but a {expected} checkpoint is expected here")
