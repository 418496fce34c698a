"""Atomic writes: a file is either its old self or its new self, never half-written, even under SIGKILL."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from harness.secrets import redact


def write_text_atomic(path: Path, text: str) -> None:
    """Write `text` (secrets redacted) to a temporary file beside `path`, fsync it, then rename it over `path`."""
    write_raw_atomic(path, redact(text))


def write_raw_atomic(path: Path, text: str) -> None:
    """The same without redacting, for text that is already masked (or that masking must not rewrite)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl_atomic(path: Path, rows: list[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def read_json(path: Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def read_jsonl(path: Path) -> list[dict]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]
