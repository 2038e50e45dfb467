"""Stopping a run on request: SIGTERM (what SLURM, Kubernetes, Cloud TPU and Colab send before they take
a machine back) or SIGINT (Ctrl-C) ends training after the step in progress, at a step every process
agrees on, with a checkpoint of that step.

One process: the signal sets a flag, read before each step is dispatched (a validation in progress is
abandoned: the scheduler's grace period is short). Several processes: JAX's preemption service
(`multihost_utils.reached_preemption_sync_point`) catches SIGTERM on any process, tells the others
through the coordination service, and names the step at which all of them stop (the largest step any
has reached, plus one); Ctrl-C is passed to that service as a SIGTERM of this process. A second
signal before the save is done stops at once (KeyboardInterrupt): the earlier checkpoints stay.
"""
import os
import signal

import jax
from jax.experimental import multihost_utils

EXIT_CODES = {signal.SIGTERM: 143, signal.SIGINT: 130}  # 128 + the signal's number, as shells report


class Preempted(Exception):
  """Training stopped on a signal at `step`, whose checkpoint is saved."""

  def __init__(self, step, signum, checkpoint):
    self.step, self.exit_code = step, EXIT_CODES.get(signum, 143)
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    super().__init__(f"stopped on {name} after step {step}; saved {checkpoint}: run the same command "
                     "to resume from there")


class StopRequest:
  """Installs the signal handlers for the life of a `with` block; `reached(step)` says whether to stop
  after `step`."""

  def __init__(self):
    self.signum = None
    self.multi_process = jax.process_count() > 1
    self._previous = {}

  def __enter__(self):
    # Several processes: SIGTERM stays JAX's own handler, the one that tells the other processes.
    signums = (signal.SIGINT,) if self.multi_process else (signal.SIGINT, signal.SIGTERM)
    self._previous = {s: signal.signal(s, self._on_signal) for s in signums}
    return self

  def __exit__(self, *exc):
    for signum, handler in self._previous.items():
      signal.signal(signum, handler)

  def _on_signal(self, signum, frame):
    del frame
    if self.signum is not None:
      raise KeyboardInterrupt  # a second signal: stop now
    self.signum = signum
    # os.write, not print: the signal may land inside a print (tqdm's), which print cannot re-enter.
    os.write(2, b"\nstopping after this step, saving a checkpoint (again to stop at once)\n")
    if self.multi_process:
      os.kill(os.getpid(), signal.SIGTERM)

  def reached(self, step):
    """Whether training stops after `step` (every process gets the same answer for the same step)."""
    if self.multi_process:
      return multihost_utils.reached_preemption_sync_point(step)
    return self.signum is not None

  def abandon_validation(self):
    """Whether a validation in progress is dropped, so that training stops without waiting for it: a
    signal came, in a one-process run (several processes stop at an agreed step, after it)."""
    return self.signum is not None and not self.multi_process

  @property
  def stop_signal(self):
    """The signal this process got, or SIGTERM where another process got it."""
    return self.signum if self.signum is not None else signal.SIGTERM
