"""The `patchmix` command: parses arguments and calls the modules that do the work."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys

from pydantic import ValidationError

from harness.analysis import commands as analysis_commands
from harness.demo import commands as demo_commands
from harness.exceptions import InfraError, PatchmixError, describe_storage_error, is_storage_error
from harness.pipeline import commands as pipeline_commands
from harness.route import commands as route_commands
from harness.scoring import commands as scoring_commands
from harness.select import commands as select_commands
from harness.tasks import commands as tasks_commands
from harness.workflow import commands as workflow_commands

STAGE_COMMANDS = (tasks_commands, pipeline_commands, workflow_commands, analysis_commands, select_commands,
                  scoring_commands, route_commands, demo_commands)
"""Each stage's `commands` module, in the order `patchmix --help` lists them (from the first steps to the demo):
its `add_parser(subparsers)` adds the stage's sub-commands. A new command goes into its stage's module."""


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patchmix", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for stage in STAGE_COMMANDS:
        stage.add_parser(subparsers)
    return parser


def raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, raise_interrupt)
    # Started from a script as `patchmix run ... &`, the process inherits SIGINT ignored; Ctrl-C must still stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return args.func(args)
    except (PatchmixError, ValidationError) as error:
        print(f"patchmix: error: {format_error(error)}", file=sys.stderr)
        return 2
    except InfraError as error:  # the engine failed outside any run (listing or removing leftover containers)
        print(f"patchmix: error: {error}; check that the Docker engine runs (`docker info`), then retry",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("patchmix: interrupted; finished work is saved, rerun the same command to resume", file=sys.stderr)
        if argv is None:  # the command itself: leave now, not after the seconds Python takes to tear litellm down
            exit_now(130)
        return 130
    except OSError as error:
        if not is_storage_error(error):
            raise
        print(f"patchmix: error: {describe_storage_error(error)}", file=sys.stderr)
        return 4


def exit_now(code: int) -> None:
    """Exit at once (files are written atomically or appended whole, and every log handler is closed)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def format_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"config key {where}: {first['msg']}"
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
