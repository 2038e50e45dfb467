"""`python -m liifusion_jax train|eval|upscale|demo ARGS`: the commands of train.py, eval.py, upscale.py and
demo.py, with their arguments (installed from the wheel as liifusion-train, -eval, -upscale, -demo)."""
import sys

from liifusion_jax.cli.launch import COMMANDS, command_main, start

USAGE = (f"usage: python -m liifusion_jax {{{','.join(COMMANDS)}}} ARGS "
         "(python -m liifusion_jax COMMAND --help for its arguments)")


def main(argv=None):
  argv = sys.argv[1:] if argv is None else argv
  if argv[:1] in (["-h"], ["--help"]):
    print(USAGE)
    return 0
  if not argv or argv[0] not in COMMANDS:
    print(f"{USAGE}\nerror: unknown command {argv[0]!r}" if argv else USAGE, file=sys.stderr)
    return 2
  command, *rest = argv
  sys.argv[0] = f"python -m liifusion_jax {command}"  # argparse's program name in usage and errors
  return command_main(command)(rest)  # one command's imports


if __name__ == "__main__":
  start(sys.argv[1] if len(sys.argv) > 1 else None)  # as the other entry points do (cli/launch.py)
  sys.exit(main())
