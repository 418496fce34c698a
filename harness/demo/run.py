"""`patchmix demo`: the seed's three-iteration pipeline on the bundled tasks with scripted models, scored
by the official harness and summarised, with no provider key and no network."""

from __future__ import annotations

import os
from pathlib import Path

from harness.demo import make_demo_script
from harness.images import build_images
from harness.launch import run_pipeline
from harness.report import write_report
from harness.scripted import ScriptedServer

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "scripts" / "demo" / "pipeline.yaml"
DEMO_KEY = "sk-demo-not-a-real-key-0000"


def run_demo(runs_dir: Path, workers: int | None = None) -> Path:
    """Run, score and report the demo; returns the path of the summary."""
    from harness.scoring import evaluate_run

    rows = build_images(ROOT / "tasks")
    with ScriptedServer(make_demo_script(rows)) as server:
        os.environ["PATCHMIX_SCRIPTED_API_BASE"] = server.api_base
        os.environ.setdefault("PATCHMIX_SCRIPTED_KEY", DEMO_KEY)
        run_pipeline(DEMO_CONFIG, runs_dir=runs_dir, workers=workers)
    run_dir = runs_dir / "demo"
    evaluate_run(run_dir, workers=2)
    return write_report(run_dir)
