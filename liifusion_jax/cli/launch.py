"""The commands' entry points: the wheel's liifusion-train, -eval, -upscale and -demo, and train.py,
eval.py, upscale.py and demo.py. A training process first gets huge pages for its buffers
(`huge_pages.reexec`; the one-shot commands do not, see there); each then imports its command's module
(seconds of imports) and runs its `main` on sys.argv[1:]. `python -m liifusion_jax COMMAND` does the
same (`liifusion_jax/__main__.py`)."""
import importlib
import sys

from liifusion_jax.cli import huge_pages

COMMANDS = ("train", "eval", "upscale", "demo")
HUGE_PAGE_COMMANDS = ("train",)  # long runs of like steps, where huge pages pay (cli/huge_pages.py)


def command_main(command):
  """The `main(argv)` of a command's module (`liifusion_jax.cli.<command>`)."""
  return importlib.import_module(f"liifusion_jax.cli.{command}").main


def start(command):
  """Starts the process again with huge pages if `command` is one that gains from them."""
  if command in HUGE_PAGE_COMMANDS:
    huge_pages.reexec()


def run(command):
  start(command)
  return command_main(command)(sys.argv[1:])


def train():
  return run("train")


def evaluate():
  return run("eval")


def upscale():
  return run("upscale")


def demo():
  return run("demo")
