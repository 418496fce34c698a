"""SWE-bench Pro rows: the 100 real rows of the shared sample (no pull) and the bundled Pro tasks converted to
patchmix rows, their images named by Pro's rule, the answer key kept out of what the model reads, and bad rows
refused in one line."""

from __future__ import annotations

import ast
import gzip
import json
import re
from pathlib import Path

import pytest

from harness.agent.config import AgentConfig, ModelConfig
from harness.agent.config import fit_config_to_row
from harness.exceptions import ConfigError
from harness.pipeline.dataset import check_rows_evaluable, load_rows
from harness.pipeline.benchmarks import get_form
from harness.pipeline.prorows import convert_pro_row, convert_pro_rows, get_pro_image_name

PRO_DATA = Path("/work/shared/data/swe-bench-pro")
BUNDLED = Path(__file__).resolve().parents[2] / "tasks" / "pro" / "pro.jsonl"
HIDDEN = ("fail_to_pass", "pass_to_pass", "test_patch", "patch", "before_repo_set_cmd", "selected_test_files_to_run")


def read_gz_jsonl(path: Path) -> list[dict]:
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def sample_rows() -> list[dict]:
    return read_gz_jsonl(PRO_DATA / "sample-100.jsonl.gz")


@pytest.fixture(scope="module")
def published_images() -> dict[str, str]:
    return {row["instance_id"]: row["image_name"] for row in read_gz_jsonl(PRO_DATA / "instances-731.jsonl.gz")}


def test_every_sample_row_converts_with_workdir_lists_and_evaluator(sample_rows):
    converted = convert_pro_rows(sample_rows)
    assert len(converted) == 100
    for raw, row in zip(sample_rows, converted):
        assert row["workdir"] == "/app" and row["eval_type"] == "pro"
        assert row["FAIL_TO_PASS"] == ast.literal_eval(raw["fail_to_pass"]) and row["FAIL_TO_PASS"]
        assert row["PASS_TO_PASS"] == ast.literal_eval(raw["pass_to_pass"])
        assert row["selected_test_files_to_run"] == ast.literal_eval(raw["selected_test_files_to_run"])
        assert row["base_commit"] == raw["base_commit"] and row["repo_language"] == raw["repo_language"]
    check_rows_evaluable(converted)
    assert convert_pro_row(converted[0]) is converted[0]  # converting twice changes nothing


def test_image_names_follow_pro_rule_as_published_for_the_same_ids(sample_rows, published_images):
    converted = convert_pro_rows(sample_rows)
    assert all(row["instance_id"] in published_images for row in converted)
    for row in converted:
        assert row["image"] == published_images[row["instance_id"]], row["instance_id"]
    # the rule's special cases, on ids of its own file's shape
    element = "instance_element-hq__element-web-ec0f940ef0e8e3b61078f145f34dc40d1938e6c5-vnan"
    expected = f"jefzda/sweap-images:element-hq.element-web-{element[len('instance_'):]}"
    assert get_pro_image_name(element, "element-hq/element-web") == expected
    other = "instance_element-hq__element-web-1111111111111111111111111111111111111111-vnan"
    assert get_pro_image_name(other, "element-hq/element-web").endswith(":element-hq.element-element-hq__element-web-"
                                                                       + "1" * 40)
    long_id = "instance_a__b-" + "c" * 200
    assert len(get_pro_image_name(long_id, "A/B").split(":", 1)[1]) == 128


def test_the_rule_names_all_731_published_images(published_images):
    """The 731-instance file has no `repo` column (its `repo_name` is "app"): org and repository are read from the
    instance id, `instance_<org>__<repo>-<40 hex>[-v...]`."""
    id_form = re.compile(r"^instance_(.+?)__(.+?)-[0-9a-f]{40}(-v|$)")
    assert len(published_images) == 731
    for instance_id, image in published_images.items():
        org, repo = id_form.match(instance_id).group(1, 2)
        assert get_pro_image_name(instance_id, f"{org}/{repo}") == image, instance_id


def test_the_model_visible_statement_holds_requirements_and_interface_but_no_answer_key(sample_rows):
    for raw, row in zip(sample_rows, convert_pro_rows(sample_rows)):
        statement = row["problem_statement"]
        assert raw["problem_statement"].strip() in statement
        assert "## Requirements" in statement and raw["requirements"].strip() in statement
        if raw["interface"].strip():
            assert "## Interface" in statement and raw["interface"].strip() in statement
        for field in HIDDEN:
            if len(raw[field].strip()) > 2:  # an empty list '[]' is no secret
                assert raw[field].strip() not in statement, (row["instance_id"], field)
        for test in ast.literal_eval(raw["fail_to_pass"]) + ast.literal_eval(raw["pass_to_pass"]):
            if len(test) > 40:  # long enough not to be a word the issue itself uses
                assert test not in statement, (row["instance_id"], test)
        gold = raw["before_repo_set_cmd"].strip().splitlines()[-1].split()[2]
        assert gold not in statement


@pytest.mark.parametrize("field", ["fail_to_pass", "pass_to_pass", "before_repo_set_cmd",
                                   "selected_test_files_to_run", "base_commit", "requirements", "interface"])
def test_a_row_lacking_a_field_is_refused_in_one_line_naming_it(sample_rows, field):
    row = {key: value for key, value in sample_rows[3].items() if key != field}
    with pytest.raises(ConfigError) as caught:
        convert_pro_row(row)
    message = str(caught.value)
    assert "\n" not in message and f"`{field}`" in message and sample_rows[3]["instance_id"] in message


def test_a_malformed_test_list_is_refused_in_one_line(sample_rows):
    row = {**sample_rows[0], "fail_to_pass": "['tests/a.py::t', "}
    with pytest.raises(ConfigError) as caught:
        convert_pro_row(row)
    assert "\n" not in str(caught.value) and "`fail_to_pass` is not a Python list literal" in str(caught.value)
    with pytest.raises(ConfigError, match="`pass_to_pass` is not a list of strings"):
        convert_pro_row({**sample_rows[0], "pass_to_pass": "{'a': 1}"})


def test_a_pro_file_is_converted_on_loading(sample_rows, tmp_path):
    path = tmp_path / "pro.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in sample_rows[:5]))
    rows = load_rows(str(path))
    assert [row["eval_type"] for row in rows] == ["pro"] * 5
    assert rows == convert_pro_rows(sample_rows[:5])


def test_bundled_pro_rows_are_in_pro_form_with_local_images():
    raw = [json.loads(line) for line in BUNDLED.read_text().splitlines()]
    assert {row["repo_language"] for row in raw} == {"python", "js"}
    for field in HIDDEN + ("requirements", "interface"):
        assert all(isinstance(row[field], str) and row[field] for row in raw)
    rows = load_rows(str(BUNDLED))
    assert all(row["image"].startswith("patchmix/sweap-images:patchmix.") for row in rows)
    assert all(not row["image"].endswith("-vnan") for row in rows)
    check_rows_evaluable(rows)


def test_a_pro_row_moves_the_agent_to_app_and_skips_the_python_check_off_python():
    config = AgentConfig(model=ModelConfig(name="openai/x", input_cost_per_token=0, output_cost_per_token=0))
    rows = {row["repo_language"]: row for row in load_rows(str(BUNDLED))}
    python, js = fit_config_to_row(config, rows["python"]), fit_config_to_row(config, rows["js"])
    assert python.container.workdir == js.container.workdir == "/app"
    assert python.container.check_python and not js.container.check_python
    assert config.container.workdir == "/testbed"  # the run's own config is left as it was
    assert fit_config_to_row(config, {"instance_id": "x"}) is config


def test_answer_key_fields_named_by_the_adapter_cover_pro_extras():
    assert set(HIDDEN) <= set(get_form("pro").answer_key)


def test_a_pro_rows_scoring_key_follows_what_pro_scoring_reads(sample_rows):
    from harness.scoring.keys import make_row_key

    row = convert_pro_row(sample_rows[0])
    key = make_row_key(row, "isolated")
    for field, value in (("before_repo_set_cmd", "git checkout 0000000 -- tests"), ("base_commit", "1" * 40),
                         ("selected_test_files_to_run", ["tests/other.py"])):
        assert make_row_key({**row, field: value}, "isolated") != key, field
    assert make_row_key({**row, "requirements": "other"}, "isolated") == key  # not read by scoring


def test_pro_scoring_is_refused_in_official_containers(tmp_path):
    from harness.exceptions import PatchmixError
    from harness.scoring.official import OFFICIAL, make_harness_command

    with pytest.raises(PatchmixError, match="isolated containers only") as caught:
        make_harness_command(tmp_path / "p.jsonl", BUNDLED, "r", tmp_path, 1, 60, None, containers=OFFICIAL,
                             pro_scripts_dir=tmp_path)
    assert "\n" not in str(caught.value)
