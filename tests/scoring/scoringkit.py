"""Helpers shared by the scoring tests: a run folder as `patchmix run` leaves it (config.yaml and predictions per
iteration and model), the reports `patchmix evaluate` stores beside it, a log that keeps its lines, and a patch that
does not apply."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from harness.pipeline.rundir import get_model_name

RUN_NAME = "fake"
PATCH_THAT_DOES_NOT_APPLY = """\
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1,1 +1,1 @@
-a line that is not in the file
+nor is this one
"""


def make_run(root: Path, dataset: Path | str, cells: dict[tuple[int, str], dict[str, str]]) -> Path:
    """A run folder as `patchmix run` leaves it: config.yaml and iter_<k>/<label>/preds.jsonl."""
    run_dir = root / RUN_NAME
    labels = sorted({label for _, label in cells})
    config = {"name": RUN_NAME, "dataset": {"path": str(dataset), "split": "test"},
              "iterations": [{"models": labels}]}
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    for (iteration, label), patches in cells.items():
        write_preds(run_dir, iteration, label, patches)
    return run_dir


def write_preds(run_dir: Path, iteration: int, label: str, patches: dict[str, str]) -> Path:
    path = run_dir / f"iter_{iteration}" / label / "preds.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    model = get_model_name(RUN_NAME, iteration, label)
    rows = [{"instance_id": iid, "model_name_or_path": model, "model_patch": patch} for iid, patch in patches.items()]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def read_stored(run_dir: Path, key: str, name: str = "report.json") -> dict:
    return json.loads((run_dir / "eval" / key / name).read_text())


class Log(list):
    def __call__(self, line: str) -> None:
        self.append(line)

    def text(self) -> str:
        return "\n".join(self)
