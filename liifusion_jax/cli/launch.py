"""The commands' entry points: the wheel's liifusion-train, -eval, -upscale and -demo, and train.py,
eval.py, upscale.py and demo.py. Each process first gets huge pages for its buffers
(`huge_pages.reexec`), then imports its command's module (seconds of imports) and runs its `main` on
sys.argv[1:]. `python -m liifusion_jax COMMAND` does the same (`liifusion_jax/__main__.py`)."""
import importlib
import sys

from liifusion_jax.cli import huge_pages

COMMANDS = ("train", "eval", "upscale", "demo")


def command_main(command):
  """The `main(argv)` of a command's module (`liifusion_jax.cli.<command>`)."""
  return importlib.import_module(f"liifusion_jax.cli.{command}").main


def run(command):
  huge_pages.reexec()
  return command_main(command)(sys.argv[1:])


def train():
  return run("train")


def evaluate():
  return run("eval")


def upscale():
  return run("upscale")


def demo():
  return run("demo")
