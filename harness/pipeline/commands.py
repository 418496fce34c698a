"""`patchmix datasets`, `run-one` and `images`: argument parsing and printing; the work is in the modules beside."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from harness.exceptions import PatchmixError

DATASET_HELP = ("a benchmark's name (`patchmix datasets` lists them), a .json/.jsonl(.gz)/.parquet file or a "
                "Hugging Face id")
"""The help of every `--dataset` that takes a benchmark's name, a file or a Hugging Face id (any stage's)."""


def add_parser(subparsers) -> None:
    """`datasets`, `run-one` and `images` (the CLI lists them among the other stages' commands)."""
    datasets = subparsers.add_parser("datasets", help="the benchmarks patchmix knows by name, and how it runs each")
    datasets.set_defaults(func=cmd_datasets)

    one = subparsers.add_parser("run-one", help="run one agent on one instance")
    one.add_argument("--dataset", required=True, help=DATASET_HELP)
    one.add_argument("--instance", required=True, help="the instance_id to work on")
    one.add_argument("--model", help="litellm model name (overrides the config's model.name)")
    one.add_argument("--config", help="YAML with model, limits and container settings")
    one.add_argument("--api-base", help="the provider's base URL (overrides the config)")
    one.add_argument("--output", default="runs/single", help="folder for the trajectory and preds.jsonl")
    one.set_defaults(func=cmd_run_one)

    images = subparsers.add_parser("images", help="list, pull or remove the images of a pipeline's instances")
    images.add_argument("action", choices=["list", "pull", "prune"])
    images.add_argument("target", metavar="RUN_OR_CONFIG", help="a run folder or a pipeline config file")
    images.add_argument("--runs-dir", default="runs", help="where a config's run folder is (default runs/)")
    images.add_argument("--all", action="store_true",
                        help="prune: also the selection's images that were present before patchmix pulled any")
    images.set_defaults(func=cmd_images)


def load_yaml(path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        raise PatchmixError(f"config file {path} does not exist")
    return yaml.safe_load(file.read_text()) or {}


def cmd_datasets(args) -> int:
    from harness.pipeline.benchmarks import format_benchmarks  # lazy: command
    print(format_benchmarks())
    return 0


def cmd_run_one(args) -> int:
    # lazy: command
    from harness.agent.attempt import run_instance
    from harness.agent.environment.removal import remove_leftover_containers  # lazy: command
    from harness.pipeline.dataset import check_rows_evaluable, load_rows, select_rows  # lazy: command
    from harness.pipeline.outcomes import EXIT_RUNS_LEFT  # lazy: command
    from harness.pipeline.single import make_single_config, save_prediction  # lazy: command
    config = make_single_config(load_yaml(args.config) if args.config else {}, args)
    rows = select_rows(load_rows(args.dataset), ids=[args.instance])
    check_rows_evaluable(rows)
    remove_leftover_containers()
    out = Path(args.output)
    prediction, info = run_instance(rows[0], config, out / f"{args.instance}.traj.json", config.model.label)
    written = save_prediction(out / "preds.jsonl", prediction, info)
    print(f"{args.instance}: {info['exit_status']} after {info.get('steps', 0)} steps, ${info.get('cost', 0):.4f}; "
          f"patch: {info.get('patch_label') or 'none'}; trajectory in {out}")
    if not written:
        print(f"no prediction written: a run that ended {info['exit_status']} is to be redone (fix what stopped "
              "it and rerun the same command)", file=sys.stderr)
        return EXIT_RUNS_LEFT
    return 0


def cmd_images(args) -> int:
    from harness.pipeline import imagecommands  # lazy: command
    target, runs = Path(args.target), Path(args.runs_dir)
    if args.action == "list":
        return imagecommands.list_images(target, runs)
    if args.action == "pull":
        return imagecommands.pull_missing(target, runs)
    return imagecommands.prune_images(target, runs, everything=args.all)
