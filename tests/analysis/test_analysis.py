"""Analysis functions and `patchmix analyze` sources, on constructed sets and the real data in /work/shared/data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.analysis import tables as an
from harness.analysis import sources as src
from harness.analysis.sourcefiles import SourceError, load_sources
from tests.analysis.analysiskit import make_seed_sets

DATA = Path("/work/shared/data")
LEADERBOARD_CSV = DATA / "bash-only-leaderboard-resolved.csv"
GEMINI_JSON = DATA / "gemini-3-pro-bash-only-resolved.json"
needs_data = pytest.mark.skipif(not LEADERBOARD_CSV.exists(), reason="reference data not on this machine")


# ---------------------------------------------------------------- the seed's numbers


def test_seed_shape_overlap_of_iteration_1():
    ids, iteration_1, _, _ = make_seed_sets()
    overlap = an.get_overlap(iteration_1, len(ids))
    assert (overlap["all"], overlap["exactly"][2], overlap["exactly"][1], overlap["none"]) == (284, 54, 43, 119)
    assert overlap["exactly"][3] == overlap["all"] and overlap["exactly"][0] == overlap["none"]
    assert overlap["any"] == 381


def test_seed_shape_new_fixes_and_regressions():
    _, iteration_1, iteration_2, iteration_3 = make_seed_sets()
    baselines = [an.get_baseline(iteration_1), an.get_baseline({"k": iteration_2}), iteration_3]
    assert [len(b) for b in baselines] == [284, 345, 354]
    deltas = an.get_iteration_deltas(baselines)
    assert [(d["new_fixes"], d["regressions"], d["net_change"]) for d in deltas] == [(66, 5, 61), (11, 2, 9)]
    assert len(deltas[0]["new_fix_ids"]) == 66 and len(deltas[1]["regression_ids"]) == 2


def test_seed_shape_oracle_overall_and_cumulative():
    _, iteration_1, iteration_2, iteration_3 = make_seed_sets()
    unions = [an.get_union(iteration_1), iteration_2, iteration_3]
    assert [len(u) for u in an.get_cumulative_unions(unions)] == [381, 387, 390]
    everything = {**iteration_1, "iter2": iteration_2, "iter3": iteration_3}
    assert len(an.get_union(everything)) == 390


# ---------------------------------------------------------------- smaller pieces


def test_pairwise_unique_and_intersections():
    sets = {"a": {"1", "2", "3"}, "b": {"2", "3", "4"}, "c": {"3"}}
    pairs = {(p["a"], p["b"]): p for p in an.get_pairwise_overlap(sets)}
    assert pairs[("a", "b")] | {} == {"a": "a", "b": "b", "both": 2, "only_a": 1, "only_b": 1, "jaccard": 0.5}
    assert pairs[("b", "c")]["both"] == 1 and len(pairs) == 3
    assert an.get_unique_solves(sets) == {"a": ["1"], "b": ["4"], "c": []}
    assert an.get_intersections(sets) == [(("a",), 1), (("b",), 1), (("a", "b"), 1), (("a", "b", "c"), 1)]
    assert an.get_pairwise_matrix(sets) == [[3, 2, 1], [2, 3, 1], [1, 1, 1]]


def test_overlap_refuses_a_total_below_the_union():
    with pytest.raises(ValueError, match="smaller than the 2 instances"):
        an.get_overlap({"a": {"x"}, "b": {"y"}}, 1)


def test_empty_inputs_give_empty_sets():
    assert an.get_union({}) == set() and an.get_intersection({}) == set()
    assert an.get_overlap({}, 3)["none"] == 3


def test_instance_statuses_follow_the_run_report():
    report = {
        "resolved_ids": ["r"], "unresolved_ids": ["u"], "empty_patch_ids": ["e"], "error_ids": ["x"],
    }
    statuses = an.get_instance_statuses(["r", "u", "e", "x", "missing"], report)
    assert statuses == {"r": "resolved", "u": "unresolved", "e": "empty_patch", "x": "eval_error",
                        "missing": "not_evaluated"}
    assert set(an.get_instance_statuses(["r"], None).values()) == {"not_evaluated"}


def test_count_values_puts_the_vocabulary_first():
    counts = an.count_values(["zeta", "step_limit", "submitted", "submitted"], ("submitted", "step_limit"))
    assert list(counts.items()) == [("submitted", 2), ("step_limit", 1), ("zeta", 1)]


def test_markdown_table_formats_cells():
    table = an.make_markdown_table(("a", "b"), [(None, 0.123456), ("x|y", 3)])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| – | 0.1235 |", "| x\\|y | 3 |"]


def test_formatters():
    assert an.format_percent(284, 500) == "56.8%" and an.format_percent(None, 500) == "–"
    assert an.format_dollars(12.5) == "$12.50" and an.format_dollars(0.01234) == "$0.0123"
    assert an.divide_or_none(3, 0) is None and an.divide_or_none(3, 2) == 1.5


# ---------------------------------------------------------------- sources: kinds and errors


def write_json(path: Path, data) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def test_each_source_kind_is_detected(tmp_path):
    specs = [
        "run=" + write_json(tmp_path / "r.json", {"resolved_ids": ["a", "b"], "unresolved_ids": ["c"],
                                                  "submitted_ids": ["a", "b", "c"], "total_instances": 3}),
        "inst=" + write_json(tmp_path / "i.json", {"a": {"resolved": True}, "d": {"resolved": False}}),
        write_json(tmp_path / "results.json", {"resolved": ["b"], "no_generation": ["e"]}),
        write_json(tmp_path / "ids.json", ["a", "c"]),
    ]
    (tmp_path / "m.csv").write_text("instance_id,x,y\na,1,0\nb,1,1\nf,0,0\n")
    specs.append(str(tmp_path / "m.csv"))
    found = {s.label: s for s in load_sources(specs)}
    assert {label: s.kind for label, s in found.items()} == {
        "run": "run_report", "inst": "instance_report", "results": "results_json", "ids": "id_list",
        "x": "csv_column", "y": "csv_column",
    }
    assert found["run"].resolved == {"a", "b"} and found["run"].known == {"a", "b", "c"}
    assert found["inst"].resolved == {"a"} and found["inst"].known == {"a", "d"}
    assert found["results"].known == {"b", "e"} and found["y"].resolved == {"b"}
    assert found["x"].known == {"a", "b", "f"}


def test_a_label_names_csv_columns(tmp_path):
    (tmp_path / "m.csv").write_text("instance_id,x,y\na,1,0\n")
    (tmp_path / "one.csv").write_text("instance_id,only\na,1\n")
    labels = [s.label for s in load_sources([f"lb={tmp_path / 'm.csv'}", f"solo={tmp_path / 'one.csv'}"])]
    assert labels == ["lb/x", "lb/y", "solo"]


@pytest.mark.parametrize("content", [
    '{"some": "thing"}', "[1, 2, 3]", "{}", '{"a": {"passed": true}}', "just some text\n",
    '{"instance_id": "a", "model_patch": ""}\n{"instance_id": "b", "model_patch": ""}\n',
    "instance_id,run\na,yes\n",
])
def test_a_bad_file_gives_one_line_naming_it(tmp_path, content):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(SourceError) as caught:
        load_sources([str(path)])
    message = str(caught.value)
    assert str(path) in message and "\n" not in message and "accepted:" in message


def test_missing_file_and_duplicate_labels_are_errors(tmp_path):
    with pytest.raises(SourceError, match="cannot read"):
        load_sources([str(tmp_path / "nope.json")])
    one = write_json(tmp_path / "a.json", ["x"])
    with pytest.raises(SourceError, match="labelled 'same'"):
        load_sources([f"same={one}", f"same={one}"])


def test_total_option_sets_the_denominator(tmp_path):
    spec = write_json(tmp_path / "ids.json", ["a", "b"])
    result = src.analyze_sources([spec], total=10)
    assert result["overlap"]["none"] == 8 and result["total_from"] == "--total"
    with pytest.raises(SourceError, match="smaller than"):
        src.analyze_sources([spec], total=1)


# ---------------------------------------------------------------- sources: the real data


def read_leaderboard_columns() -> dict[str, set[str]]:
    """The CSV read with the csv module only, as the expected values."""
    with LEADERBOARD_CSV.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    return {name: {row[0] for row in body if row[i] == "1"} for i, name in enumerate(header) if i > 0}


@needs_data
def test_analyze_reproduces_the_leaderboard_matrix(tmp_path):
    expected = read_leaderboard_columns()
    result = src.analyze_sources([str(LEADERBOARD_CSV)], out_dir=tmp_path)
    assert {s["label"]: s["resolved"] for s in result["sources"]} == {k: len(v) for k, v in expected.items()}
    union = set().union(*expected.values())
    assert result["oracle"]["resolved"] == len(union) and result["oracle"]["ids"] == sorted(union)
    assert result["total"] == 500 and sum(result["overlap"]["exactly"].values()) == 500
    assert len(result["pairwise"]) == len(expected) * (len(expected) - 1) // 2
    for name in ("resolved_per_source", "agreement", "overlap", "pairwise"):
        assert (tmp_path / result["charts"][name]).stat().st_size > 10_000
    assert json.loads((tmp_path / "analysis.json").read_text())["oracle"]["resolved"] == len(union)
    assert "| all 25 |" in src.render_analysis(result)


@needs_data
def test_analyze_reads_the_gemini_resolved_list():
    data = json.loads(GEMINI_JSON.read_text())
    assert isinstance(data, list)
    result = src.analyze_sources([f"gemini={GEMINI_JSON}"], total=500)
    assert result["sources"][0] | {} == {"label": "gemini", "path": str(GEMINI_JSON), "kind": "id_list",
                                         "resolved": 371, "known": 371, "unique": 371}
    assert result["overlap"]["none"] == 129


@needs_data
def test_analyze_combines_a_column_with_the_gemini_list(tmp_path):
    expected = read_leaderboard_columns()
    gemini = set(json.loads(GEMINI_JSON.read_text()))
    result = src.analyze_sources([str(LEADERBOARD_CSV), f"gemini={GEMINI_JSON}"], out_dir=tmp_path)
    assert result["oracle"]["resolved"] == len(set().union(gemini, *expected.values()))
    text = src.render_analysis(result)
    assert "gemini" in text and "less similar pairs" in text
