"""The `patchmix` command: parses arguments and calls the modules that do the work."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from harness.exceptions import PatchmixError


def raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def load_yaml(path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        raise PatchmixError(f"config file {path} does not exist")
    return yaml.safe_load(file.read_text()) or {}


def cmd_build_images(args) -> int:
    from harness.images import build_images

    rows = build_images(Path(args.tasks), force=args.force)
    print(f"{len(rows)} task images ready; dataset rows in {Path(args.tasks) / 'bundled.jsonl'}")
    return 0


def cmd_run_one(args) -> int:
    from harness.config import AgentConfig
    from harness.dataset import check_rows_evaluable, load_rows, select_rows
    from harness.environment import remove_leftover_containers
    from harness.runner import run_instance
    from harness.single import make_single_config, save_prediction

    config: AgentConfig = make_single_config(load_yaml(args.config) if args.config else {}, args)
    rows = select_rows(load_rows(args.dataset), ids=[args.instance])
    check_rows_evaluable(rows)
    remove_leftover_containers()
    out = Path(args.output)
    prediction, info = run_instance(rows[0], config, out / f"{args.instance}.traj.json", config.model.label)
    save_prediction(out / "preds.jsonl", prediction)
    print(f"{args.instance}: {info['exit_status']} after {info.get('steps', 0)} steps, ${info.get('cost', 0):.4f}; "
          f"patch: {info.get('patch_label') or 'none'}; trajectory in {out}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patchmix", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build-images", help="build the base image and the bundled tasks' images")
    build.add_argument("--tasks", default=str(Path(__file__).resolve().parent.parent / "tasks"))
    build.add_argument("--force", action="store_true", help="rebuild images that exist")
    build.set_defaults(func=cmd_build_images)

    one = sub.add_parser("run-one", help="run one agent on one instance")
    one.add_argument("--dataset", required=True, help="a .json/.jsonl/.parquet file or a Hugging Face id")
    one.add_argument("--instance", required=True, help="the instance_id to work on")
    one.add_argument("--model", help="litellm model name (overrides the config's model.name)")
    one.add_argument("--config", help="YAML with model, limits and container settings")
    one.add_argument("--api-base", help="the provider's base URL (overrides the config)")
    one.add_argument("--output", default="runs/single", help="folder for the trajectory and preds.jsonl")
    one.set_defaults(func=cmd_run_one)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        return args.func(args)
    except (PatchmixError, ValidationError) as error:
        print(f"patchmix: error: {format_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("patchmix: interrupted; finished work is saved, rerun the same command to resume", file=sys.stderr)
        return 130


def format_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"config key {where}: {first['msg']}"
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
