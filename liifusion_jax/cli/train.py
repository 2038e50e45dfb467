"""Command line of train.py: a config file, a workdir, and `--config.key=value` overrides."""
import argparse
import logging
import sys

from liifusion_jax.cli.errors import user_errors
from liifusion_jax.config import apply_overrides, bundled_config_names, default_workdir, load_config

# What Ctrl-C prints (and exits 130): the run resumes from its last checkpoint.
INTERRUPTED = "interrupted: the last saved checkpoint stays; run the same command to resume"


def parse_args(argv):
  parser = argparse.ArgumentParser(
      description="Train LIIFusion (stage 1 or 2, as the config says).",
      epilog="Any config value can be set with --config.KEY=VALUE, e.g. --config.optim.lr=2e-4.")
  parser.add_argument("--config", required=True,
                      help="config file, PATH or PATH:VARIANT (e.g. configs/stage1.py:quick), or a "
                           f"bundled one by name: {', '.join(bundled_config_names())} (e.g. stage1:quick)")
  parser.add_argument("--workdir", help="run folder: checkpoints, logs, samples; training resumes from "
                      "a checkpoint found there (default: runs/<config name>, e.g. runs/stage1_quick)")
  args, rest = parser.parse_known_args(argv)
  overrides = []
  for item in rest:
    if not item.startswith("--config."):
      parser.error(f"unrecognised argument {item!r}")
    overrides.append(item[len("--config."):])
  return args, overrides


class _OrbaxEchoes(logging.Filter):
  """Drops the error records in which orbax's writer threads echo a failed write (one per array, each
  with its traceback: thousands of lines for a full disk); the save raises it in one line anyway."""

  def filter(self, record):
    if record.levelno < logging.ERROR:
      return True
    return not ("/orbax/" in record.pathname or "exception was never retrieved" in record.getMessage())


def _quiet_orbax_echoes():
  echoes = _OrbaxEchoes()
  for name in ("absl", "asyncio"):  # orbax logs through absl, its asyncio tasks through asyncio
    logging.getLogger(name).addFilter(echoes)
  # After a failed write orbax closes its event loop; tensorstore then reports each write still in
  # flight as an unraisable "Event loop is closed", hundreds of tracebacks before the one-line error.
  default_hook = sys.unraisablehook

  def hook(unraisable):
    error = unraisable.exc_value
    if not (isinstance(error, RuntimeError) and str(error) == "Event loop is closed"):
      default_hook(unraisable)

  sys.unraisablehook = hook


def main(argv=None):
  args, overrides = parse_args(sys.argv[1:] if argv is None else argv)
  if args.workdir is None:
    args.workdir = default_workdir(args.config)
    print(f"workdir: {args.workdir}")
  logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
  _quiet_orbax_echoes()
  with user_errors(interrupted=INTERRUPTED):
    config = apply_overrides(load_config(args.config), overrides)
    from liifusion_jax.train import distributed  # jax starts here, after the cheap checks
    distributed.initialize()  # before anything touches a device: loop's imports build arrays
    from liifusion_jax import compilation_cache
    compilation_cache.enable()  # a resumed run loads its compiled steps
    from liifusion_jax.train import loop, preemption
    try:
      loop.train(config, args.workdir)
    except preemption.Preempted as stopped:
      print(stopped, file=sys.stderr)
      raise SystemExit(stopped.exit_code)
  return 0
