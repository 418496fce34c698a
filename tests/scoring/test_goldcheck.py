"""`patchmix validate-gold`: gold patches scored by the real harness; a broken instance is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.fileio import read_jsonl, write_jsonl_atomic

pytestmark = pytest.mark.docker
TASKS = Path(__file__).resolve().parents[2] / "tasks"

README_ONLY = ("diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n"
               " {first}\n+A line that fixes nothing.\n")


def test_gold_patches_resolve_and_a_broken_instance_is_named(bundled_rows, tmp_path, capsys):
    rows = read_jsonl(TASKS / "bundled.jsonl")
    broken = rows[0]["instance_id"]  # its "gold" patch becomes one that only touches the README
    task_dir = TASKS / broken.split("__")[1].rsplit("-", 1)[0]
    readme_first = (task_dir / "repo" / "README.md").read_text().splitlines()[0]
    rows[0] = {**rows[0], "patch": README_ONLY.format(first=readme_first)}
    dataset = tmp_path / "tampered.jsonl"
    write_jsonl_atomic(dataset, rows)
    code = main(["validate-gold", "--dataset", str(dataset), "--out", str(tmp_path / "gold")])
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "gold" / "gold-check.json").read_text())
    assert code == 1
    assert summary["checked"] == 5 and summary["resolved"] == 4 and summary["broken_ids"] == [broken]
    assert "gold patches resolved: 4 of 5" in out and broken in out


def test_gold_patches_of_the_other_languages_and_of_pro_rows_resolve_through_the_same_command(docker_client,
                                                                                               tmp_path, capsys):
    from harness.tasks.multilingual import build_multilingual_images
    from harness.tasks.proimages import build_pro_images

    build_multilingual_images(TASKS, log=lambda *args: None)
    build_pro_images(TASKS / "pro", log=lambda *args: None, client=docker_client)
    multilingual = TASKS / "multilingual.jsonl"
    assert main(["validate-gold", "--dataset", str(multilingual), "--out", str(tmp_path / "ml")]) == 0
    assert "gold patches resolved: 3 of 3" in capsys.readouterr().out
    pro = TASKS / "pro" / "pro.jsonl"
    scripts = TASKS / "pro" / "run_scripts"
    assert main(["validate-gold", "--dataset", str(pro), "--pro-scripts-dir", str(scripts),
                 "--out", str(tmp_path / "pro")]) == 0
    assert "gold patches resolved: 2 of 2" in capsys.readouterr().out
    # without the scripts, no verdict is made up: each instance is an evaluation error that says what to give
    assert main(["validate-gold", "--dataset", str(pro), "--out", str(tmp_path / "pro-none")]) == 1
    summary = json.loads((tmp_path / "pro-none" / "gold-check.json").read_text())
    assert summary["resolved"] == 0 and len(summary["error_ids"]) == 2
    assert "evaluation errors" in capsys.readouterr().out
