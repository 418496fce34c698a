"""The benchmarks patchmix knows by name and the row forms it reads, from one table: `datasets/benchmarks.yaml`.

A name (`verified`, `multilingual`, `pro`, ...) stands for a Hugging Face id and split; a form (`swebench`,
`pro`, ...) says how rows of that shape become the rows patchmix runs: where the repository is, which evaluator
scores them, which columns are the answer key, or the one line that says why patchmix cannot run them. A local
file's form is recognised from its columns, so a file of Pro rows runs as `dataset: pro` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from harness.exceptions import ConfigError
from harness.languages import read_dataset_table
from harness.pipeline.prorows import convert_pro_rows

SWEBENCH_FORM = "swebench"

# Converters of the forms whose rows are not already patchmix's own (the swebench 5.x form): form -> rows -> rows.
CONVERTERS: dict[str, Callable[[list[dict]], list[dict]]] = {"pro": convert_pro_rows}

__all__ = ["Benchmark", "Form", "list_benchmarks", "find_benchmark", "get_form", "detect_form", "convert_rows",
           "get_answer_key_fields"]


@dataclass(frozen=True)
class Benchmark:
    name: str
    hub: str
    split: str
    form: str
    about: str = ""


@dataclass(frozen=True)
class Form:
    name: str
    workdir: str | None = None
    evaluator: str | None = None
    answer_key: tuple[str, ...] = ()
    refuse: str | None = None
    """Why rows of this form cannot run, and what to do: the one line that refuses them at load."""


def list_benchmarks() -> list[Benchmark]:
    return [Benchmark(name, **entry) for name, entry in read_dataset_table()["benchmarks"].items()]


def find_benchmark(name: str) -> Benchmark | None:
    """The benchmark of that name (case-insensitive), or None for anything else (a file, a Hugging Face id)."""
    entry = read_dataset_table()["benchmarks"].get(str(name).strip().lower())
    return Benchmark(str(name).strip().lower(), **entry) if entry else None


def format_benchmarks() -> str:
    """`patchmix datasets`: each benchmark's name, rows, and how patchmix runs it, or why it cannot."""
    lines = []
    for benchmark in list_benchmarks():
        form = get_form(benchmark.form)
        how = (f"repository at {form.workdir}, scored by the {form.evaluator} evaluator" if not form.refuse
               else "refused at load: " + form.refuse.split(";")[0])
        lines.append(f"{benchmark.name:13} {benchmark.hub} ({benchmark.split}): {benchmark.about}; {how}")
    return "\n".join(lines + ["", "Use one as `dataset: <name>` in a pipeline config or `--dataset <name>`; a local "
                              "file or another Hugging Face id works too (its form is read from its columns)."])


def get_form(name: str) -> Form:
    entry = dict(read_dataset_table()["forms"][name])
    entry["answer_key"] = tuple(entry.get("answer_key", ()))
    return Form(name, **entry)


def detect_form(rows: list[dict]) -> str:
    """The form of rows read from a file or an unnamed Hugging Face id, from the columns of the first row."""
    if not rows or not isinstance(rows[0], dict) or rows[0].get("eval_script"):
        return SWEBENCH_FORM
    for rule in read_dataset_table()["detect"]:
        if all(column in rows[0] for column in rule["columns"]):
            return rule["form"]
    return SWEBENCH_FORM


def refuse_form(form: Form, source: str) -> None:
    if form.refuse:
        raise ConfigError(f"dataset {source}: {form.refuse}")


def convert_rows(rows: list[dict], form_name: str, source: str) -> list[dict]:
    """Rows of `form_name` as patchmix runs them; ConfigError (one line) for a form it cannot run."""
    refuse_form(get_form(form_name), source)
    convert = CONVERTERS.get(form_name)
    return convert(rows) if convert else rows


def get_answer_key_fields() -> set[str]:
    """Every column that is some form's answer key: none of them may reach a model."""
    return {field for name in read_dataset_table()["forms"] for field in get_form(name).answer_key}
