"""`write_report` on run directories built on disk in the layout `patchmix run` and `patchmix evaluate` write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.exceptions import PatchmixError
from harness.analysis.report import write_report
from tests.analysis.analysiskit import COST_PER_RUN, make_seed_sets, write_cell


@pytest.fixture
def seed_run(tmp_path) -> Path:
    """A run shaped like the seed's: three models, then kimi0905 alone twice, over 500 instances."""
    ids, iteration_1, iteration_2, iteration_3 = make_seed_sets()
    run_dir = tmp_path / "runs" / "seed-shape"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text("iterations: []\n")
    for model, resolved in iteration_1.items():
        write_cell(run_dir, 1, model, ids, resolved)
    write_cell(run_dir, 2, "kimi0905", ids, iteration_2)
    write_cell(run_dir, 3, "kimi0905", ids, iteration_3)
    return run_dir


def read_summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "report" / "summary.json").read_text())


def edit_eval_report(run_dir: Path, iteration: int, model: str, change) -> None:
    path = run_dir / "eval" / f"iter_{iteration}" / model / "report.json"
    report = json.loads(path.read_text())
    change(report)
    path.write_text(json.dumps(report))


def test_report_gives_the_seed_numbers(seed_run):
    summary_md = write_report(seed_run)
    summary = read_summary(seed_run)
    first, second, third = summary["iterations"]
    overlap = first["overlap"]
    assert (overlap["all"], overlap["exactly"]["2"], overlap["exactly"]["1"], overlap["none"]) == (284, 54, 43, 119)
    assert first["resolved"] == 284 and first["resolved_by_any"] == 381 and first["new_fixes"] is None
    assert (second["resolved"], second["new_fixes"], second["regressions"]) == (345, 66, 5)
    assert (third["resolved"], third["new_fixes"], third["regressions"]) == (354, 11, 2)
    assert [e["cumulative_oracle"] for e in summary["iterations"]] == [381, 387, 390]
    assert summary["oracle"] | {"ids": None} == {"resolved": 390, "percent": 78.0, "complete": True, "ids": None}
    assert summary["instances"] == 500 and summary["evaluated"] == "all" and summary["notes"] == []
    assert summary_md == seed_run / "report" / "summary.md"


def test_report_charts_exist_and_are_linked(seed_run):
    write_report(seed_run)
    summary = read_summary(seed_run)
    expected = {"overlap_iter_1", "resolved_by_iteration", "oracle_by_iteration", "fixes_vs_regressions",
                "resolved_per_model"}
    assert set(summary["charts"]) == expected
    markdown = (seed_run / "report" / "summary.md").read_text()
    for name in summary["charts"].values():
        assert (seed_run / "report" / name).stat().st_size > 5_000
        assert f"]({name})" in markdown
    assert not list((seed_run / "report").glob(".*tmp")), "temporary files were left behind"


def test_report_counts_models_exit_statuses_and_cost(seed_run):
    write_report(seed_run)
    summary = read_summary(seed_run)
    rows = {(r["iteration"], r["model"]): r for r in summary["models"]}
    assert len(rows) == 5
    q480b = rows[(1, "q480b")]
    assert q480b["resolved"] == 284 + 36 + 15 and q480b["attempted"] == 500 and q480b["not_run"] == 0
    assert q480b["resolved"] + q480b["unresolved"] + q480b["empty_patch"] == 500
    assert q480b["exit_statuses"] == {"submitted": 450, "step_limit": 50}
    assert q480b["cost"] == pytest.approx(500 * COST_PER_RUN)
    assert rows[(2, "kimi0905")]["cost_per_resolved"] == pytest.approx(500 * COST_PER_RUN / 345)
    assert summary["iterations"][0]["overlap"]["unique"] == {"q480b": 15, "kimithink": 14, "kimi0905": 14}
    assert summary["cost"]["total"] == pytest.approx(5 * 500 * COST_PER_RUN)
    assert summary["cost"]["per_final_resolved"] == pytest.approx(5 * 500 * COST_PER_RUN / 354)
    markdown = (seed_run / "report" / "summary.md").read_text()
    assert "| 1 | q480b | 450 | 50 |" in markdown and "## Cost" in markdown


def test_report_without_evaluation_says_what_to_do(seed_run):
    shutil.rmtree(seed_run / "eval")
    write_report(seed_run)
    summary = read_summary(seed_run)
    assert summary["evaluated"] == "none" and summary["oracle"]["resolved"] is None
    assert all(entry["resolved"] is None for entry in summary["iterations"])
    assert "run `patchmix evaluate seed-shape` first" in summary["notes"][0]
    assert summary["models"][0]["exit_statuses"]["step_limit"] == 50
    assert "patchmix evaluate" in (seed_run / "report" / "summary.md").read_text()


def test_report_with_one_model_not_evaluated(seed_run):
    shutil.rmtree(seed_run / "eval" / "iter_3")
    write_report(seed_run)
    summary = read_summary(seed_run)
    third = summary["iterations"][2]
    assert third["resolved"] is None and third["new_fixes"] is None and third["cumulative_oracle"] is None
    assert summary["iterations"][1]["new_fixes"] == 66
    assert summary["oracle"]["resolved"] == 387 and summary["oracle"]["complete"] is False
    assert any("iteration 3 / kimi0905: no evaluation report" in note for note in summary["notes"])


def test_unscored_instances_are_visible(seed_run):
    def drop_verdicts(report):
        errored, skipped = report["resolved_ids"][:3], report["resolved_ids"][3:5]
        report["resolved_ids"] = report["resolved_ids"][5:]
        report["error_ids"] = errored
        report["submitted_ids"] = [i for i in report["submitted_ids"] if i not in skipped]

    edit_eval_report(seed_run, 2, "kimi0905", drop_verdicts)
    write_report(seed_run)
    summary = read_summary(seed_run)
    row = next(r for r in summary["models"] if r["iteration"] == 2)
    assert (row["resolved"], row["eval_error"], row["not_evaluated"]) == (340, 3, 2)
    assert any("5 attempted instances have no verdict" in note for note in summary["notes"])


def test_instances_a_model_never_attempted_are_counted(seed_run):
    folder = seed_run / "iter_1" / "q480b"
    gone = sorted(folder.glob("*.traj.json"))[-4:]
    names = {path.name.removesuffix(".traj.json") for path in gone}
    for path in gone:
        path.unlink()
    preds = [line for line in (folder / "preds.jsonl").read_text().splitlines()
             if json.loads(line)["instance_id"] not in names]
    (folder / "preds.jsonl").write_text("\n".join(preds) + "\n")
    edit_eval_report(seed_run, 1, "q480b", lambda r: r.update(
        submitted_ids=[i for i in r["submitted_ids"] if i not in names]))
    write_report(seed_run)
    row = read_summary(seed_run)["models"][0]
    assert (row["model"], row["attempted"], row["not_run"]) == ("kimi0905", 500, 0)
    q480b = next(r for r in read_summary(seed_run)["models"] if r["model"] == "q480b")
    assert (q480b["attempted"], q480b["not_run"]) == (496, 4)


def test_four_models_get_an_upset_chart(tmp_path):
    ids = [f"p__r-{n}" for n in range(40)]
    run_dir = tmp_path / "four"
    for m, model in enumerate(("a", "b", "c", "d")):
        write_cell(run_dir, 1, model, ids, set(ids[m * 5: m * 5 + 20]))  # windows of 20, shifted by 5
    write_report(run_dir)
    summary = read_summary(run_dir)
    assert summary["iterations"][0]["overlap"]["exactly"] == {"0": 5, "1": 10, "2": 10, "3": 10, "4": 5}
    assert (run_dir / "report" / "overlap_iter_1.png").stat().st_size > 5_000
    assert "fixes_vs_regressions" not in summary["charts"]


def test_bad_run_directories_give_errors_that_say_what_to_do(tmp_path, seed_run):
    with pytest.raises(PatchmixError, match="no run directory"):
        write_report(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PatchmixError, match="run `patchmix run` first"):
        write_report(tmp_path / "empty")
    (seed_run / "eval" / "iter_2" / "kimi0905" / "report.json").write_text("{not json")
    with pytest.raises(PatchmixError, match=r"iter_2/kimi0905/report.json is not valid JSON"):
        write_report(seed_run)


def test_a_run_still_under_way_counts_as_unknown_exit(seed_run):
    folder = seed_run / "iter_1" / "q480b"
    path = sorted(folder.glob("*.traj.json"))[0]
    traj = json.loads(path.read_text())
    traj["info"]["exit_status"] = None
    path.write_text(json.dumps(traj))
    write_report(seed_run)
    rows = {(r["iteration"], r["model"]): r for r in read_summary(seed_run)["models"]}
    assert rows[(1, "q480b")]["exit_statuses"]["unknown"] == 1


def test_the_cost_section_tells_cost_per_resolved_with_and_without_caching(seed_run):
    """Runs that recorded cache hits: the report gives the cache hit share and the cost per resolved instance
    had nothing been cached; runs recorded before caching count their cost as the uncached cost."""
    folder = seed_run / "iter_3" / "kimi0905"
    for path in folder.glob("*.traj.json"):
        traj = json.loads(path.read_text())
        traj["info"].update(tokens_cached=15_000, cost_uncached=4 * COST_PER_RUN)
        path.write_text(json.dumps(traj))
    write_report(seed_run)
    summary = read_summary(seed_run)
    row = next(r for r in summary["models"] if r["iteration"] == 3)
    assert row["cache_hit_share"] == pytest.approx(0.75)
    assert row["cost_per_resolved_uncached"] == pytest.approx(500 * 4 * COST_PER_RUN / 354)
    cost = summary["cost"]
    assert cost["total_uncached"] == pytest.approx(4 * 500 * COST_PER_RUN + 500 * 4 * COST_PER_RUN)
    assert cost["saved_by_caching"] == pytest.approx(500 * 3 * COST_PER_RUN)
    assert cost["per_final_resolved_uncached"] == pytest.approx(cost["total_uncached"] / 354)
    assert cost["cache_hit_share"] == pytest.approx(500 * 15_000 / (5 * 500 * 20_000))
    markdown = (seed_run / "report" / "summary.md").read_text()
    assert f"caching saved ${500 * 3 * COST_PER_RUN:,.2f}" in markdown
    assert "| 3 | kimi0905 |" in markdown and "| 75.0% |" in markdown
