"""`runs/<name>/images.json`: the images patchmix pulled for this run folder and still holds, so that a killed
and resumed pipeline neither pulls them again nor leaves behind those it should have removed; images missing
from it were there before and are never removed by the pipeline."""

from __future__ import annotations

import threading
from pathlib import Path

from harness.agent.trajectory import now
from harness.fileio import read_json, write_json_atomic

RECORD_NAME = "images.json"


class ImageRecord:
    def __init__(self, path: Path | None):
        self.path = path
        self.lock = threading.Lock()
        self.pulled: dict[str, dict] = {}
        if path is not None and path.is_file():
            self.pulled = dict((read_json(path) or {}).get("pulled") or {})

    def add(self, name: str, size: int) -> None:
        with self.lock:
            self.pulled[name] = {"size": size, "pulled_at": now()}
            self.save()

    def drop(self, name: str) -> None:
        with self.lock:
            if self.pulled.pop(name, None) is not None:
                self.save()

    def names(self) -> set[str]:
        with self.lock:
            return set(self.pulled)

    def save(self) -> None:
        if self.path is not None:
            write_json_atomic(self.path, {"pulled": self.pulled})
