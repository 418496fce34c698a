"""Loading dataset rows, checking they can be evaluated, and selecting instances. No Docker needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.pipeline.dataset import check_rows_evaluable, load_rows, parse_slice, select_rows
from harness.pipeline.dataset import derive_image_name, get_image_name
from harness.exceptions import ConfigError
from harness.tasks.rows import load_task_rows

REPO_ROOT = Path(__file__).resolve().parents[2]
VERIFIED = Path("/work/shared/data/swe-bench-verified.jsonl")
ROWS = [{"instance_id": f"org__repo-{n}"} for n in range(10)] + [{"instance_id": "other__lib-7"}]


def ids(rows):
    return [row["instance_id"] for row in rows]


def test_missing_file_is_a_one_line_config_error(tmp_path):
    missing = tmp_path / "nowhere.jsonl"
    with pytest.raises(ConfigError) as caught:
        load_rows(str(missing))
    assert str(missing) in str(caught.value) and "\n" not in str(caught.value)


def test_local_formats_load_the_same_rows(tmp_path):
    rows = [{"instance_id": "a__b-1", "FAIL_TO_PASS": "[]"}, {"instance_id": "a__b-2", "FAIL_TO_PASS": "[]"}]
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    import pyarrow
    import pyarrow.parquet

    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), tmp_path / "rows.parquet")
    for name in ("rows.jsonl", "rows.json", "rows.parquet"):
        assert load_rows(str(tmp_path / name)) == rows


def test_bundled_rows_are_evaluable():
    rows = load_rows(str(REPO_ROOT / "tasks" / "bundled.jsonl"))
    check_rows_evaluable(rows)
    assert ids(rows) == ids(load_task_rows(REPO_ROOT / "tasks"))


@pytest.mark.skipif(not VERIFIED.is_file(), reason="the pre-5.x reference file is not on this machine")
def test_pre_5x_rows_are_refused_with_what_to_do():
    rows = load_rows(str(VERIFIED))
    assert len(rows) == 500
    with pytest.raises(ConfigError) as caught:
        check_rows_evaluable(rows)
    message = str(caught.value)
    assert "500 of 500 rows" in message
    for column in ("image", "eval_script", "log_parser", "eval_type"):
        assert column in message
    assert "SWE-bench/SWE-bench_Verified" in message


def test_rows_lacking_only_some_columns_name_those_columns():
    rows = load_task_rows(REPO_ROOT / "tasks")
    del rows[0]["eval_type"]
    with pytest.raises(ConfigError, match=r"1 of \d+ rows lack eval_type \("):
        check_rows_evaluable(rows)


def test_unreachable_hub_dataset_is_a_config_error():
    code = "from harness.pipeline.dataset import load_rows\nload_rows('patchmix/no-such-dataset')"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "ConfigError: could not load the Hugging Face dataset 'patchmix/no-such-dataset'" in done.stderr


def test_image_name_is_the_row_column_else_swebench_convention():
    assert get_image_name({"instance_id": "x__y-1", "image": "some/image:tag"}) == "some/image:tag"
    derived = get_image_name({"instance_id": "astropy__astropy-12907"})
    assert derived == "swebench/sweb.eval.x86_64.astropy_1776_astropy-12907:latest"


def test_derived_image_names_match_swebench_own_convention():
    from swebench.task.checks import expected_image

    for instance_id in ("astropy__astropy-12907", "django__django-11099", "Org__Repo_X-7"):
        assert derive_image_name(instance_id) == expected_image(instance_id)
        assert derive_image_name(instance_id, "ns") == expected_image(instance_id, "ns")


def test_select_by_ids_keeps_dataset_order():
    assert ids(select_rows(ROWS, ids=["org__repo-3", "org__repo-1"])) == ["org__repo-1", "org__repo-3"]


def test_unknown_ids_are_named():
    with pytest.raises(ConfigError, match="1 instance ids are not in the dataset: nope__nope-1"):
        select_rows(ROWS, ids=["org__repo-1", "nope__nope-1"])


def test_select_by_regex_searches_the_id():
    assert ids(select_rows(ROWS, pattern=r"^other__")) == ["other__lib-7"]
    assert ids(select_rows(ROWS, pattern="-[12]$")) == ["org__repo-1", "org__repo-2"]


def test_bad_regex_is_a_config_error():
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        select_rows(ROWS, pattern="(")


@pytest.mark.parametrize(
    ("spec", "expected"), [(":3", slice(None, 3)), ("5:", slice(5, None)), ("5:20:2", slice(5, 20, 2)), ("::-1", slice(None, None, -1))]
)
def test_parse_slice(spec, expected):
    assert parse_slice(spec) == expected


@pytest.mark.parametrize(("spec", "message"), [("5", "needs a colon"), ("a:b", "must be integers"), ("::0", "step 0"), ("1:2:3:4", "needs a colon")])
def test_bad_slices_are_config_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        select_rows(ROWS, slice_spec=spec)


def test_slice_applies_after_filters():
    assert ids(select_rows(ROWS, pattern="^org", slice_spec="2:6:2")) == ["org__repo-2", "org__repo-4"]


def test_shuffle_is_deterministic_and_happens_before_slicing():
    first = ids(select_rows(ROWS, shuffle_seed=7, slice_spec=":5"))
    assert first == ids(select_rows(ROWS, shuffle_seed=7, slice_spec=":5"))
    assert first == ids(select_rows(ROWS, shuffle_seed=7))[:5]
    assert first != ids(ROWS)[:5]
    assert sorted(ids(select_rows(ROWS, shuffle_seed=7))) == sorted(ids(ROWS))
    assert ids(select_rows(ROWS, shuffle_seed=8)) != ids(select_rows(ROWS, shuffle_seed=7))
