"""The dataset registry: benchmarks by name, row forms recognised from their columns, forms patchmix cannot run
refused in one line, and results broken down by language in the report and `patchmix analyze`."""

from __future__ import annotations

import collections
import gzip
import json
from pathlib import Path

import pytest

from harness.analysis.report import write_report
from harness.cli import main
from harness.exceptions import ConfigError
from harness.languages import get_row_language
from harness.pipeline import benchmarks
from harness.pipeline.config import DatasetConfig
from harness.pipeline.dataset import check_rows_evaluable, get_image_name, load_rows
from harness.pipeline.rundir import RunDir
from harness.scoring.official import write_readable_dataset
from tests.analysis.analysiskit import write_cell

DATA = Path("/work/shared/data")
MULTILINGUAL = DATA / "multilingual" / "swe-bench-multilingual.jsonl.gz"
VERIFIED = DATA / "swe-bench-verified.jsonl"
LANGUAGES = {"c/c++", "go", "java", "javascript/typescript", "php", "ruby", "rust"}

# One row of each form patchmix cannot run, with the columns its authors publish (values shortened).
SWE_SMITH_ROW = {"instance_id": "oauthlib__oauthlib.1fd52536.combine_file__09vlzwgc", "repo": "swesmith/oauthlib",
                 "patch": "diff --git a/x b/x", "FAIL_TO_PASS": ["tests/t.py::test_a"], "PASS_TO_PASS": [],
                 "created_at": "2025-03-14", "image_name": "jyangballin/swesmith.x86_64.oauthlib_1776_oauthlib.1fd52536",
                 "base_commit": "abc", "problem_statement": "It breaks."}
SWE_REBENCH_ROW = {"instance_id": "o__r-1", "repo": "o/r", "base_commit": "abc", "patch": "p", "test_patch": "t",
                   "problem_statement": "It breaks.", "hints_text": "", "created_at": "2025-01-01", "version": "1.0",
                   "FAIL_TO_PASS": [], "PASS_TO_PASS": [], "environment_setup_commit": "abc",
                   "install_config": {"test_cmd": "pytest -rA", "install": "pip install -e ."},
                   "docker_image": "swerebench/sweb.eval.x86_64.o_1776_r-1"}


def read_multilingual() -> list[dict]:
    return [json.loads(line) for line in gzip.decompress(MULTILINGUAL.read_bytes()).decode().splitlines()]


def test_every_benchmark_names_a_hub_id_and_a_form_the_table_describes():
    names = [b.name for b in benchmarks.list_benchmarks()]
    assert {"verified", "lite", "full", "multilingual", "pro", "swe-gym", "swe-smith", "swe-rebench"} <= set(names)
    for benchmark in benchmarks.list_benchmarks():
        form = benchmarks.get_form(benchmark.form)
        assert "/" in benchmark.hub and benchmark.split
        assert form.refuse or (form.workdir and form.evaluator and form.answer_key), benchmark.name
    assert benchmarks.find_benchmark("Multilingual").hub == "SWE-bench/SWE-bench_Multilingual"
    assert benchmarks.find_benchmark("SWE-bench/SWE-bench_Verified") is None  # a hub id, not a name
    keys = benchmarks.get_answer_key_fields()
    assert {"FAIL_TO_PASS", "PASS_TO_PASS", "patch", "test_patch", "hints_text", "fail_to_pass", "pass_to_pass",
            "before_repo_set_cmd", "selected_test_files_to_run"} <= keys
    assert not keys & {"problem_statement", "requirements", "interface", "repo", "instance_id"}


@pytest.mark.parametrize("name, missing", [("swe-gym", "eval_script"), ("swe-smith", "eval_script"),
                                           ("swe-rebench", "eval_script")])
def test_a_benchmark_patchmix_cannot_run_is_refused_by_name_in_one_line_without_loading_it(name, missing,
                                                                                           monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("a refused benchmark must not be downloaded")

    monkeypatch.setattr("harness.pipeline.dataset.load_hub_rows", no_network)
    with pytest.raises(ConfigError) as error:
        load_rows(name)
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"dataset {name}: ") and missing in message
    assert "give patchmix the file" in message  # what to do next


@pytest.mark.parametrize("row, form", [(SWE_SMITH_ROW, "SWE-smith"), (SWE_REBENCH_ROW, "SWE-rebench")])
def test_a_local_file_of_a_form_patchmix_cannot_run_is_recognised_and_refused_in_one_line(row, form, tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(ConfigError) as error:
        load_rows(str(path))
    assert "\n" not in str(error.value) and str(error.value).startswith(f"dataset {path}: {form} rows")
    with_columns = {**row, "image": "i", "eval_script": "s", "log_parser": "parse_log_pytest", "eval_type": "pytest"}
    path.write_text(json.dumps(with_columns) + "\n")
    assert load_rows(str(path)) == [with_columns]  # given the columns it lacked, the row runs as it is


def test_all_300_multilingual_rows_load_pass_the_check_and_name_their_images_without_a_pull():
    rows = load_rows(str(MULTILINGUAL))
    assert len(rows) == 300 and rows == read_multilingual()  # the .gz is read as it is, nothing converted
    check_rows_evaluable(rows)
    for row in rows:
        assert get_image_name(row) == row["image"]
        assert row["image"] == "swebench/sweb.eval.x86_64." + row["instance_id"].lower().replace("__", "_1776_") \
            + ":latest"
    languages = collections.Counter(get_row_language(row) for row in rows)
    assert set(languages) == LANGUAGES and all(count >= 40 for count in languages.values())
    by_repo = collections.defaultdict(set)
    for row in rows:
        by_repo[row["repo"]].add(get_row_language(row))
    assert len(by_repo) == 41 and all(len(found) == 1 for found in by_repo.values())


def test_a_row_says_its_own_language_before_its_parser_does():
    assert get_row_language({"repo_language": "ts", "log_parser": "parse_log_gotest"}) == \
        "javascript/typescript"
    assert get_row_language({"language": "Go"}) == "go"
    assert get_row_language({"log_parser": "parse_log_sympy"}) == "python"
    assert get_row_language({"log_parser": "parse_log_new_thing"}) == "unknown"


def test_classic_rows_are_still_refused_for_want_of_the_5x_columns_in_one_line():
    rows = load_rows(str(VERIFIED))
    assert len(rows) == 500
    with pytest.raises(ConfigError) as error:
        check_rows_evaluable(rows)
    assert "\n" not in str(error.value) and "lack eval_script, eval_type, image, log_parser" in str(error.value)


def test_a_config_names_a_benchmark_in_one_word_and_it_is_not_taken_for_a_file():
    assert DatasetConfig.model_validate("multilingual") == DatasetConfig(path="multilingual", split="test")
    assert DatasetConfig.model_validate({"path": "pro"}).path == "pro"


def test_a_compressed_or_named_dataset_is_handed_to_the_harness_as_a_file_its_own_loader_reads(tmp_path):
    from swebench.harness.utils import load_swebench_dataset

    path, split = write_readable_dataset(str(MULTILINGUAL), "test", tmp_path)
    assert path.endswith(".jsonl") and Path(path).parent == tmp_path and split == "test"
    loaded = load_swebench_dataset(path, split)
    assert [row["instance_id"] for row in loaded] == [row["instance_id"] for row in read_multilingual()]
    assert write_readable_dataset(str(VERIFIED), "test", tmp_path) == (str(VERIFIED), "test")  # read as it is


def test_the_report_breaks_results_down_by_language_and_repository(tmp_path):
    rows = read_multilingual()
    ids = [row["instance_id"] for row in rows]
    run_dir = tmp_path / "runs" / "ml"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text("iterations: []\n")
    RunDir(run_dir).save_instances(rows)
    facts = json.loads((run_dir / "instances.json").read_text())
    assert set(facts) == set(ids) and all(set(v) == {"repo", "language"} for v in facts.values())
    go = {row["instance_id"] for row in rows if row["log_parser"] == "parse_log_gotest"}
    rust = {row["instance_id"] for row in rows if row["log_parser"] == "parse_log_cargo"}
    write_cell(run_dir, 1, "a", ids, set(sorted(go)[:10]))
    write_cell(run_dir, 1, "b", ids, set(sorted(rust)[:5]) | set(sorted(go)[5:12]))
    write_report(run_dir)
    summary = json.loads((run_dir / "report" / "summary.json").read_text())
    by_language = {row["group"]: row for row in summary["breakdowns"]["language"]}
    assert set(by_language) == LANGUAGES
    assert by_language["go"]["instances"] == len(go) and by_language["rust"]["instances"] == len(rust)
    assert by_language["go"]["resolved"] == {"iter 1 a": 10, "iter 1 b": 7, "oracle": 12}
    assert by_language["rust"]["resolved"] == {"iter 1 a": 0, "iter 1 b": 5, "oracle": 5}
    assert by_language["php"]["resolved"]["oracle"] == 0
    assert len(summary["breakdowns"]["repository"]) == 41
    markdown = (run_dir / "report" / "summary.md").read_text()
    assert "## Resolved by language" in markdown and "## Resolved by repository" in markdown
    assert f"| go | {len(go)} | 10 ({100 * 10 / len(go):.1f}%) | 7 (" in markdown


def test_analyze_breaks_outside_results_down_by_language_with_the_dataset(tmp_path, capsys):
    rows = read_multilingual()
    rust = sorted(row["instance_id"] for row in rows if row["log_parser"] == "parse_log_cargo")
    php = sorted(row["instance_id"] for row in rows if row["log_parser"] == "parse_log_phpunit")
    (tmp_path / "x.json").write_text(json.dumps(rust[:3] + php[:1]))
    (tmp_path / "y.json").write_text(json.dumps(rust[2:6]))
    out = tmp_path / "out"
    assert main(["analyze", f"x={tmp_path / 'x.json'}", f"y={tmp_path / 'y.json'}", "--dataset", str(MULTILINGUAL),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "over 300 instances" in printed and "## Resolved by language" in printed
    result = json.loads((out / "analysis.json").read_text())
    by_language = {row["group"]: row for row in result["breakdowns"]["language"]}
    assert by_language["rust"]["resolved"] == {"x": 3, "y": 4, "oracle": 6}
    assert by_language["php"]["resolved"] == {"x": 1, "y": 0, "oracle": 1}
    assert by_language["rust"]["instances"] == len(rust)
    assert main(["analyze", str(tmp_path / "x.json")]) == 0  # without a dataset: repositories only
    assert "## Resolved by language" not in capsys.readouterr().out


def test_datasets_lists_every_benchmark_and_how_it_runs(capsys):
    assert main(["datasets"]) == 0
    printed = capsys.readouterr().out
    for benchmark in benchmarks.list_benchmarks():
        assert benchmark.name in printed and benchmark.hub in printed
    assert "repository at /app, scored by the pro evaluator" in printed and "refused at load: SWE-Gym" in printed
