"""The results files `patchmix analyze` reads, as sources: each a label, the instances it resolves and those it
knows. A source is given as `LABEL=PATH` (or just `PATH`; the label is then the file's stem). The kind of file
is detected from its content:

- a SWE-bench harness run report: a JSON object with `resolved_ids`;
- a per-instance report: a JSON object `{instance_id: {"resolved": bool, ...}}`;
- a `results.json` of a SWE-bench experiments submission: a JSON object with `"resolved": [ids]`;
- a JSON list of resolved instance ids;
- a CSV matrix with an `instance_id` column and one 0/1 column per run; each column is its own source.

Entry point: `load_sources(specs)`; a file of no accepted shape is a one-line `SourceError`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from harness.exceptions import ConfigError

ACCEPTED = (
    "accepted: a SWE-bench run report (JSON with resolved_ids), a per-instance report "
    '({id: {"resolved": bool}}), a results.json ({"resolved": [ids]}), a JSON list of ids, '
    "or a CSV with an instance_id column and 0/1 columns"
)


class SourceError(ConfigError):
    """A source file that is missing or of no accepted shape; the message is one line."""


@dataclass(frozen=True)
class Source:
    label: str
    path: str
    kind: str
    resolved: frozenset[str]
    known: frozenset[str]
    """Instance ids the source mentions at all (resolved or not); a list of ids knows only its resolved ones."""


def parse_spec(spec: str) -> tuple[str | None, Path]:
    """`LABEL=PATH` -> (LABEL, PATH); a bare path (even one holding '=') -> (None, PATH)."""
    if "=" not in spec or Path(spec).exists():
        return None, Path(spec)
    label, path = spec.split("=", 1)
    if not label:
        raise SourceError(f"{spec}: empty label; write LABEL=PATH or just PATH")
    return label, Path(path)


def load_sources(specs: list[str]) -> list[Source]:
    """Load every spec; labels must come out unique."""
    if not specs:
        raise SourceError("no sources given; pass one or more LABEL=PATH (or PATH) arguments")
    sources = [source for spec in specs for source in load_source(spec)]
    seen = set()
    for source in sources:
        if source.label in seen:
            raise SourceError(f"two sources are labelled {source.label!r}; give them distinct labels: LABEL=PATH")
        seen.add(source.label)
    return sources


def load_source(spec: str) -> list[Source]:
    label, path = parse_spec(spec)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(f"{path}: cannot read it ({error.__class__.__name__}: {error})") from error
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return read_csv_sources(text, path, label)
    return [read_json_source(data, path, label or path.stem)]


def read_json_source(data, path: Path, label: str) -> Source:
    kind = detect_json_kind(data)
    if kind is None:
        raise SourceError(f"{path}: a JSON {type(data).__name__} of no known shape; {ACCEPTED}")
    resolved, known = READERS[kind](data)
    return Source(label, str(path), kind, frozenset(resolved), frozenset(known | resolved))


def detect_json_kind(data) -> str | None:
    """Name the shape of parsed JSON, or None when it is none of the accepted ones."""
    if isinstance(data, list):
        return "id_list" if all(isinstance(item, str) for item in data) else None
    if not isinstance(data, dict) or not data:
        return None
    if is_id_list(data.get("resolved_ids")):
        return "run_report"
    if is_id_list(data.get("resolved")):
        return "results_json"
    if all(isinstance(v, dict) and isinstance(v.get("resolved"), bool) for v in data.values()):
        return "instance_report"
    return None


def is_id_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def read_id_list(data: list) -> tuple[set[str], set[str]]:
    return set(data), set(data)


def read_run_report(data: dict) -> tuple[set[str], set[str]]:
    """Resolved ids, and every id under a `*_ids` key (submitted, completed, unresolved, empty patch, ...)."""
    known = {i for key, value in data.items() if key.endswith("_ids") and is_id_list(value) for i in value}
    return set(data["resolved_ids"]), known


def read_results_json(data: dict) -> tuple[set[str], set[str]]:
    known = {i for value in data.values() if is_id_list(value) for i in value}
    return set(data["resolved"]), known


def read_instance_report(data: dict) -> tuple[set[str], set[str]]:
    return {i for i, entry in data.items() if entry["resolved"]}, set(data)


READERS = {
    "id_list": read_id_list,
    "run_report": read_run_report,
    "results_json": read_results_json,
    "instance_report": read_instance_report,
}


def read_csv_sources(text: str, path: Path, label: str | None) -> list[Source]:
    """One source per 0/1 column of a CSV matrix keyed by `instance_id`."""
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = [c for c in (rows[0].keys() if rows else []) if c != "instance_id"]
    if not rows or "instance_id" not in rows[0] or not columns:
        raise SourceError(f"{path}: neither JSON nor a CSV with an instance_id column and run columns; {ACCEPTED}")
    known = frozenset(row["instance_id"] for row in rows)
    return [
        Source(name_column(label, column, len(columns)), str(path), "csv_column",
               frozenset(read_csv_column(rows, column, path)), known)
        for column in columns
    ]


def name_column(label: str | None, column: str, count: int) -> str:
    if label is None:
        return column
    return label if count == 1 else f"{label}/{column}"


def read_csv_column(rows: list[dict], column: str, path: Path) -> set[str]:
    resolved = set()
    for number, row in enumerate(rows, start=2):
        value = (row.get(column) or "").strip()
        if value not in ("0", "1"):
            raise SourceError(f"{path}:{number}: column {column!r} holds {value!r}, not 0 or 1; {ACCEPTED}")
        if value == "1":
            resolved.add(row["instance_id"])
    return resolved
