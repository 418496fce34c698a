"""Dataset rows: loading them, checking that the harness can evaluate them, and choosing which to run.

Rows follow the SWE-bench 5.x format: besides the classic columns they carry `image`, `eval_script`,
`log_parser` and `eval_type`, which the official harness needs to run and grade an instance. Rows in SWE-bench
Pro's form are converted on loading (`harness.pipeline.prorows`) and scored by Pro's steps (`harness.scoring.pro`).
"""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

from harness.exceptions import ConfigError
from harness.pipeline.benchmarks import convert_rows, detect_form, find_benchmark, get_form, refuse_form
from harness.pipeline.prorows import PRO

LOCAL_SUFFIXES = (".json", ".jsonl", ".parquet", ".json.gz", ".jsonl.gz")
EVALUATION_COLUMNS = ("image", "eval_script", "log_parser", "eval_type")
PRO_EVALUATION_COLUMNS = ("image", "eval_type", "base_commit", "before_repo_set_cmd", "selected_test_files_to_run")
SHOWN_IDS = 5

__all__ = ["load_rows", "check_rows_evaluable", "select_rows", "parse_slice", "get_image_name"]


def load_rows(source: str, split: str = "test") -> list[dict]:
    """Rows, as patchmix runs them, from a benchmark's name (`verified`, `multilingual`, `pro`, ...: see
    `harness.pipeline.benchmarks`), a local .json/.jsonl(.gz)/.parquet file, or a Hugging Face dataset id (e.g.
    `SWE-bench/SWE-bench_Verified`) for the given split. Rows of a form patchmix cannot run are refused in one
    line."""
    source = str(source)
    benchmark = find_benchmark(source)
    if benchmark:
        refuse_form(get_form(benchmark.form), benchmark.name)
        return convert_rows(load_hub_rows(benchmark.hub, split), benchmark.form, benchmark.name)
    if source.endswith(LOCAL_SUFFIXES):
        rows = load_local_rows(Path(source))
    elif Path(source).exists():
        raise ConfigError(f"{source} is not a .json, .jsonl (optionally .gz) or .parquet file; convert it, or give a "
                          "Hugging Face id or a benchmark name (`patchmix datasets` lists them)")
    else:
        rows = load_hub_rows(source, split)
    return convert_loaded_rows(rows, source)


def convert_loaded_rows(rows: list[dict], source: str) -> list[dict]:
    """Rows read from a file or a Hugging Face id (by patchmix or by the harness's own loader) as patchmix runs
    them: converted from their form, which their columns tell (SWE-bench Pro's, ...)."""
    return convert_rows(rows, detect_form(rows), source)


def load_local_rows(path: Path) -> list[dict]:
    if not path.is_file():
        raise ConfigError(f"dataset file {path} does not exist")
    if path.suffix == ".parquet":
        import pyarrow.parquet  # lazy: pyarrow is heavy and only parquet files need it

        return pyarrow.parquet.read_table(path).to_pylist()
    try:
        text = open_text(path)
        if path.name.endswith((".jsonl", ".jsonl.gz")):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"dataset file {path} is not valid JSON ({error})") from error
    except (OSError, UnicodeDecodeError) as error:  # a .gz that is not gzip, a file that is not UTF-8
        raise ConfigError(f"dataset file {path} cannot be read ({error}); give a JSON, JSON lines, gzip-compressed "
                          "JSON lines or parquet file") from error
    return list(data.values()) if isinstance(data, dict) else data


def open_text(path: Path) -> str:
    """A dataset file's text; a `.gz` file (`rows.jsonl.gz`) is read through gzip."""
    if path.name.endswith(".gz"):
        return gzip.decompress(path.read_bytes()).decode("utf-8")
    return path.read_text(encoding="utf-8")


def load_hub_rows(name: str, split: str) -> list[dict]:
    import datasets  # lazy: heavy (pyarrow, pandas), needed only for a Hugging Face id

    try:
        return list(datasets.load_dataset(name, split=split))
    except (datasets.exceptions.DatasetNotFoundError, FileNotFoundError, ConnectionError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            f"could not load the Hugging Face dataset {name!r} (split {split!r}): {first_line}; "
            "check the id and your network, or give a local .json/.jsonl/.parquet file"
        ) from error


def check_rows_evaluable(rows: list[dict]) -> None:
    """Raise ConfigError unless every row has the columns the swebench 5.x harness evaluates with."""
    lacking = [row for row in rows if any(not row.get(column) for column in get_evaluation_columns(row))]
    if not lacking:
        return
    missing = sorted({column for row in lacking for column in get_evaluation_columns(row) if not row.get(column)})
    example = lacking[0]
    raise ConfigError(
        f"{len(lacking)} of {len(rows)} rows lack {', '.join(missing)} (e.g. {example.get('instance_id')}, whose "
        f"published image swebench names {get_image_name(example)}), which the swebench 5.x harness needs to "
        "evaluate them; use a SWE-bench 5.x dataset such as the Hugging Face `SWE-bench/SWE-bench_Verified`, "
        "or add these columns"
    )


def get_evaluation_columns(row: dict) -> tuple[str, ...]:
    return PRO_EVALUATION_COLUMNS if row.get("eval_type") == PRO else EVALUATION_COLUMNS


def select_rows(
    rows: list[dict],
    ids: list[str] | None = None,
    pattern: str | None = None,
    slice_spec: str | None = None,
    shuffle_seed: int | None = None,
) -> list[dict]:
    """Keep the rows named in `ids`, then those whose instance_id matches the regex `pattern` (searched),
    then shuffle with `shuffle_seed` (when given), then apply `slice_spec` (python style: ":10", "5:20:2")."""
    if ids:
        rows = filter_ids(rows, ids)
    if pattern:
        rows = filter_pattern(rows, pattern)
    if shuffle_seed is not None:
        rows = shuffle_rows(rows, shuffle_seed)
    if slice_spec:
        rows = rows[parse_slice(slice_spec)]
    return rows


def filter_ids(rows: list[dict], ids: list[str]) -> list[dict]:
    known = {row["instance_id"] for row in rows}
    unknown = [instance_id for instance_id in ids if instance_id not in known]
    if unknown:
        shown = ", ".join(unknown[:SHOWN_IDS]) + (" ..." if len(unknown) > SHOWN_IDS else "")
        raise ConfigError(f"{len(unknown)} instance ids are not in the dataset: {shown}; check their spelling")
    wanted = set(ids)
    return [row for row in rows if row["instance_id"] in wanted]


def filter_pattern(rows: list[dict], pattern: str) -> list[dict]:
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise ConfigError(f"instance filter {pattern!r} is not a valid regular expression: {error}") from error
    return [row for row in rows if regex.search(row["instance_id"])]


def shuffle_rows(rows: list[dict], seed: int) -> list[dict]:
    """A seeded shuffle that depends only on the seed and the rows, never on the process."""
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    return shuffled


def parse_slice(spec: str) -> slice:
    """A python-style slice from a string: ":10", "5:", "5:20", "5:20:2" (no step 0)."""
    parts = str(spec).strip().split(":")
    if len(parts) not in (2, 3):
        raise ConfigError(f"slice {spec!r} needs a colon, like ':10' (first ten) or '5:20:2'")
    try:
        start, stop, *step = [int(part) if part.strip() else None for part in parts]
    except ValueError as error:
        raise ConfigError(f"slice {spec!r} must be integers separated by colons, like '5:20:2'") from error
    if step and step[0] == 0:
        raise ConfigError(f"slice {spec!r} has step 0; use a step of 1 or more, like '::2'")
    return slice(start, stop, step[0] if step else None)


def get_image_name(row: dict, namespace: str = "swebench") -> str:
    """The image the harness runs `row` in: its `image` column (what `make_test_spec` reads), else the
    name swebench derives from the instance id for published images (`swebench.task.checks.expected_image`)."""
    if row.get("image"):
        return row["image"]
    return derive_image_name(row["instance_id"], namespace)


def derive_image_name(instance_id: str, namespace: str = "swebench") -> str:
    """swebench's naming convention, e.g. `swebench/sweb.eval.x86_64.astropy_1776_astropy-12907:latest`
    (the same as `swebench.task.checks.expected_image`, which a test compares it with; only `scoring`
    imports swebench)."""
    key = f"sweb.eval.x86_64.{instance_id}:latest".lower()
    return f"{namespace}/{key}".replace("__", "_1776_")
