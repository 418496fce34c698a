"""SWE-bench Pro rows in patchmix's row form.

A Pro row (scaleapi/SWE-bench_Pro-os) has no `image`, no `eval_script`, and its test lists are Python-literal
strings; its tests run through the instance's own `run_script.sh` and `parser.py` (`harness.scoring.pro`).
`convert_pro_row` keeps every Pro column and adds what patchmix reads:

    image          Pro's naming rule: `<namespace>/sweap-images:<org>.<repo>-<id without instance_, -vnan>`
    workdir        /app (the agent works there instead of `container.workdir`)
    eval_type      "pro" (scoring dispatches on it)
    FAIL_TO_PASS, PASS_TO_PASS        the lists of `fail_to_pass`, `pass_to_pass`
    problem_statement                 what the model reads: the issue, then its requirements and interface

The answer key (`fail_to_pass`, `pass_to_pass`, `test_patch`, `patch`, `before_repo_set_cmd`,
`selected_test_files_to_run`: the `pro` form's `answer_key` in `datasets/benchmarks.yaml`) stays in the row for
scoring and never goes into the problem statement.
"""

from __future__ import annotations

import ast

from harness.exceptions import ConfigError

PRO = "pro"
PRO_WORKDIR = "/app"
PRO_NAMESPACE = "jefzda"
"""The Docker Hub account Pro's images are published under (its `image_uri.py`)."""
TAG_LIMIT = 128
REQUIRED_FIELDS = ("instance_id", "repo", "base_commit", "problem_statement", "requirements", "interface",
                   "fail_to_pass", "pass_to_pass", "before_repo_set_cmd", "selected_test_files_to_run")
LIST_FIELDS = {"fail_to_pass": "FAIL_TO_PASS", "pass_to_pass": "PASS_TO_PASS",
               "selected_test_files_to_run": "selected_test_files_to_run"}
ELEMENT_WEB = "instance_element-hq__element-web-ec0f940ef0e8e3b61078f145f34dc40d1938e6c5-vnan"

__all__ = ["convert_pro_row", "convert_pro_rows", "is_pro_row", "get_pro_image_name", "make_task_statement"]


def is_pro_row(row: dict) -> bool:
    """A row in Pro's form (converted or not): it names the test files to run and the gold commit's checkout."""
    return row.get("eval_type") == PRO or ("before_repo_set_cmd" in row and "selected_test_files_to_run" in row)


def convert_pro_rows(rows: list[dict], namespace: str = PRO_NAMESPACE) -> list[dict]:
    return [convert_pro_row(row, namespace) for row in rows]


def convert_pro_row(row: dict, namespace: str = PRO_NAMESPACE) -> dict:
    """The patchmix row of a Pro row (a converted row is returned as it is); ConfigError in one line that
    names the instance and the field when the row lacks a field or holds a malformed list. A row's own
    `image_namespace` column overrides `namespace` (the bundled Pro tasks use a local one, never pulled)."""
    if row.get("eval_type") == PRO and "FAIL_TO_PASS" in row:
        return row
    check_pro_row(row)
    lists = {name: parse_list(row, name) for name in LIST_FIELDS}
    return {
        **row,
        "problem_statement": make_task_statement(row),
        "image": get_pro_image_name(row["instance_id"], row["repo"], row.get("image_namespace") or namespace),
        "workdir": PRO_WORKDIR,
        "eval_type": PRO,
        "FAIL_TO_PASS": lists["fail_to_pass"],
        "PASS_TO_PASS": lists["pass_to_pass"],
        "selected_test_files_to_run": lists["selected_test_files_to_run"],
        "pro_problem_statement": row["problem_statement"],
    }


def check_pro_row(row: dict) -> None:
    name = row.get("instance_id") or "(no instance_id)"
    for field in REQUIRED_FIELDS:
        if field not in row or row[field] is None or (field not in ("requirements", "interface") and not row[field]):
            raise ConfigError(f"SWE-bench Pro row {name} lacks `{field}`; use the full Pro rows (e.g. the Hugging "
                              "Face `ScaleAI/SWE-bench_Pro` test split), which carry it")
    if "/" not in str(row["repo"]):
        raise ConfigError(f"SWE-bench Pro row {name}: `repo` {row['repo']!r} is not `<org>/<name>`; fix the row")


def parse_list(row: dict, field: str) -> list[str]:
    """A list field: a list already, or Pro's Python-literal string of one (JSON text parses the same)."""
    value = row[field]
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError) as error:
            raise ConfigError(f"SWE-bench Pro row {row['instance_id']}: `{field}` is not a Python list literal "
                              f"({type(error).__name__}: {error}); fix the row") from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"SWE-bench Pro row {row['instance_id']}: `{field}` is not a list of strings; fix the row")
    return list(value)


def make_task_statement(row: dict) -> str:
    """What the model is told: the issue, then the requirements and the interface, each under a heading."""
    parts = [row["problem_statement"].strip()]
    for heading, field in (("Requirements", "requirements"), ("Interface", "interface")):
        text = (row.get(field) or "").strip()
        if text:
            parts.append(f"## {heading}\n\n{text}")
    return "\n\n".join(parts) + "\n"


def get_pro_image_name(instance_id: str, repo: str, namespace: str = PRO_NAMESPACE) -> str:
    """Pro's image naming rule: `<namespace>/sweap-images:<org>.<repo>-<id>`, lower-cased org and repo, the id
    without its `instance_` prefix and `-vnan` suffix, the tag cut at 128 characters; element-hq/element-web is
    named `element` (but for one instance, which keeps `element-web` and its suffix)."""
    org, name = repo.lower().split("/", 1)
    suffix = instance_id.replace("instance_", "")
    if instance_id != ELEMENT_WEB:
        suffix = suffix.removesuffix("-vnan")
        if "element-hq" in repo.lower() and "element-web" in repo.lower():
            name = "element"
    return f"{namespace}/sweap-images:{f'{org}.{name}-{suffix}'[:TAG_LIMIT]}"
