"""Quiets what orbax leaves behind when one array of a damaged checkpoint cannot be read.

orbax reads a checkpoint's arrays concurrently on an event loop that it closes when one read fails;
the other reads end later in tensorstore's threads (into the closed loop) or are collected unfinished,
and each prints a traceback: 25,000-36,000 lines of stderr for one truncated file on a resume, after
our one-line report of it. `install`, called where such a failure is reported, drops for the rest of
the process the unraisable errors raised in orbax's code or by a closed event loop, asyncio's reports
of such errors, and the "never awaited" warning of orbax's read.
"""
import functools
import logging
import os
import sys
import warnings

_ORBAX = f"{os.sep}orbax{os.sep}"


def _raised_in_orbax(error):
  """Whether `error`, or an exception it was raised from, passed through orbax's code."""
  while error is not None:
    tb = error.__traceback__
    while tb is not None:
      if _ORBAX in tb.tb_frame.f_code.co_filename:
        return True
      tb = tb.tb_next
    error = error.__cause__ or error.__context__
  return False


def _is_leftover(error, source=None):
  """Whether an error (and the object it was raised in) is one of the abandoned reads'."""
  code = getattr(source, "cr_code", None)  # a coroutine collected unfinished
  return ((code is not None and _ORBAX in code.co_filename) or _raised_in_orbax(error)
          or (isinstance(error, RuntimeError) and str(error) == "Event loop is closed"))


class _AsyncioFilter(logging.Filter):
  """asyncio's "... exception was never retrieved" for the gathered reads."""

  def filter(self, record):
    return not (record.exc_info and _is_leftover(record.exc_info[1]))


@functools.cache
def _install_hooks():
  previous = sys.unraisablehook

  def hook(unraisable):
    if not _is_leftover(unraisable.exc_value, unraisable.object):
      previous(unraisable)

  sys.unraisablehook = hook
  logging.getLogger("asyncio").addFilter(_AsyncioFilter())


def ignore_unawaited_reads():
  """Drops the "never awaited" warning of orbax's read from now on. Set before a read too: a failed
  read's other coroutines can be collected before the failure reaches `install`."""
  # Each time: a `warnings.catch_warnings` around a caller (pytest's, for one) resets the filters.
  warnings.filterwarnings("ignore", "coroutine '_read_array_index_and_device_put' was never awaited",
                          RuntimeWarning)


def install():
  """Drops the abandoned reads' output from now on (again where a caller reset the warning filters)."""
  _install_hooks()
  ignore_unawaited_reads()
