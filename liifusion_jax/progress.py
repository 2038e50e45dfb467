"""Progress of long work on stderr: done of total with the time left, once the work has taken a few
seconds (short work prints nothing); a line rewritten in place on a terminal, a plain line every few
seconds elsewhere (a log file, a notebook, CI)."""
import sys
import time

DELAY = 3.0  # seconds of work before the first report
EVERY = 5.0  # seconds between plain lines (not a terminal)
REDRAW = 0.2  # seconds between redraws on a terminal


class Progress:
  """`progress(done, total)` reports `done` of `total` units (fractions allowed: 2.5 images).

  The last call, with done == total, ends the line (and says the time taken) if any was shown.
  """

  def __init__(self, label, unit, stream=None, delay=None, every=None, clock=time.monotonic):
    self.label, self.unit, self.clock = label, unit, clock
    self.delay = DELAY if delay is None else delay
    self.every = EVERY if every is None else every
    self._stream = stream
    self.start = clock()
    self.shown = False
    self._last = None
    self._open = False  # a terminal line waits to be rewritten

  @property
  def stream(self):
    return self._stream or sys.stderr  # looked up late: the stderr of the moment (tests capture it)

  def __call__(self, done, total):
    now = self.clock()
    finished = done >= total
    if finished and not self.shown:
      return
    tty = self.stream.isatty()
    if not finished and (now - self.start < self.delay or
                         (self._last is not None and now - self._last < (REDRAW if tty else self.every))):
      return
    self._last, self.shown = now, True
    line = self.line(done, total, now - self.start)
    if tty:
      self.stream.write(f"\r{line}\033[K" + ("\n" if finished else ""))
      self._open = not finished
    else:
      self.stream.write(line + "\n")
    self.stream.flush()

  def line(self, done, total, elapsed):
    """`label: done/total unit (percent), time so far, about time left`."""
    text = f"{self.label}: {_amount(done)}/{_amount(total)} {self.unit} ({100 * done / total:.0f}%), "
    if done >= total:
      return text + f"done in {_clock(elapsed)}"
    left = f", about {_clock(elapsed * (total - done) / done)} left" if done > 0 else ""
    return text + f"{_clock(elapsed)} so far{left}"

  def write(self, message):
    """Prints a message line on the stream without breaking the progress line."""
    if self._open:
      self.stream.write("\r\033[K")
      self._open, self._last = False, None  # redrawn at the next report
    print(message, file=self.stream, flush=True)


def reporter(progress, label, unit):
  """The `progress(done, total)` callable of an API's `progress` argument: None (none), True (a
  `Progress` on stderr) or a callable of the user's."""
  if progress is True:
    return Progress(label, unit)
  return progress or None


def counter(report, total):
  """`step()` that counts one unit more of `total` and reports it (None where `report` is None)."""
  if report is None:
    return None
  done = 0

  def step():
    nonlocal done
    done += 1
    report(done, total)
  return step


def _amount(value):
  return f"{value:g}" if float(value).is_integer() else f"{value:.1f}"


def _clock(seconds):
  """H:MM:SS or M:SS."""
  minutes, secs = divmod(int(round(seconds)), 60)
  hours, minutes = divmod(minutes, 60)
  return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
