"""`patchmix demo`: the seed's three-iteration pipeline on the bundled tasks with scripted models, scored
by the official harness and summarised, with no provider key and no network. `patchmix demo --multilingual`
runs the same models on the Go, Rust and JavaScript tasks (`demo/multilingual.yaml`)."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from harness.demo.models import make_demo_script
from harness.tasks.images import build_images
from harness.tasks.multilingual import MULTILINGUAL_ROWS, build_multilingual_images
from harness.analysis.report import write_report
from harness.scripted.server import ScriptedServer
from harness.fileio import write_text_atomic
from harness.workflow.chains import evaluate_then_refresh, run_then_select
from harness.resources import get_bundled_dir

DEMO_CONFIG = get_bundled_dir("demo") / "pipeline.yaml"
MULTILINGUAL_CONFIG = get_bundled_dir("demo") / "multilingual.yaml"
DEMO_KEY = "sk-demo-not-a-real-key-0000"


def run_demo(runs_dir: Path, workers: int | None = None, multilingual: bool = False) -> Path:
    """Run, score and report the demo (on the tasks in other languages with `multilingual`); returns the path
    of the summary."""
    tasks_dir = get_bundled_dir("tasks")
    if multilingual:
        rows = build_multilingual_images(tasks_dir)
        config_path = write_demo_config(runs_dir, tasks_dir / MULTILINGUAL_ROWS, MULTILINGUAL_CONFIG)
    else:
        rows = build_images(tasks_dir)
        config_path = write_demo_config(runs_dir, tasks_dir / "bundled.jsonl")
    with ScriptedServer(make_demo_script(rows)) as server:
        os.environ["PATCHMIX_SCRIPTED_API_BASE"] = server.api_base
        os.environ.setdefault("PATCHMIX_SCRIPTED_KEY", DEMO_KEY)
        run_then_select(config_path, runs_dir=runs_dir, workers=workers)
    run_dir = runs_dir / yaml.safe_load(config_path.read_text())["name"]
    evaluate_then_refresh(run_dir, workers=2)
    return write_report(run_dir)


def write_demo_config(runs_dir: Path, dataset: Path, source: Path = DEMO_CONFIG) -> Path:
    """The demo config with its dataset named by absolute path, so that it runs from an installed wheel too."""
    config = yaml.safe_load(source.read_text())
    config["dataset"]["path"] = str(dataset.resolve())
    path = runs_dir / f".demo-{source.stem}.yaml"
    write_text_atomic(path, yaml.safe_dump(config, sort_keys=False))
    return path
