"""The cost ledger of a run folder and the budget that reads it.

`runs/<name>/ledger.jsonl` gets one line when a model call starts and one when it ends, for every call of every
attempt of every run, from every process that works on the folder (threads, resumes, other machines on a shared
disk). Lines are only ever appended, each with one `write` on a file opened with O_APPEND, so a SIGKILL loses at
most the line being written and never mixes two lines. A call with a start line and no end line was under way
when its process died: the provider may have billed it, so the budget counts its estimate (the prompt's
input price).

    {"event": "start", "call": id, "model": ..., "label": ..., "estimate": dollars, "run": ..., "pid": ..., "at": ...}
    {"event": "end", "call": id, "cost": dollars, "cost_uncached": dollars, "tokens_in": n, "tokens_out": n,
     "tokens_cached": n, "tokens_cache_write": n, "tokens_reasoning": n}                 (or "error": ...)

`cost` is as billed: cache reads and writes at their own prices (harness/agent/model/pricing.py); `cost_uncached` is
what the same call would cost with every prompt token at the input price. The budget counts `cost`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from datetime import datetime, timezone
from pathlib import Path

LEDGER_NAME = "ledger.jsonl"


class Ledger:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.lock = threading.Lock()
        self.offset = 0
        self.ended: dict[str, float] = {}
        self.started: dict[str, float] = {}

    def append(self, record: dict) -> None:
        """Append one line; with O_APPEND and one write, concurrent writers never interleave."""
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    def make_recorder(self, **where):
        """An `on_call` callback for the model seam: each event goes to the ledger with `where` (iteration,
        model, instance), this process's pid and host, and the time."""
        stamp = {**where, "pid": os.getpid(), "host": socket.gethostname()}

        def record(event: dict) -> None:
            extra = stamp if event.get("event") == "start" else {}
            self.append({**event, **extra, "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds")})
        return record

    def read_new(self) -> None:
        """Take in the lines appended since the last read (by any process); a torn last line waits."""
        if not self.path.is_file():
            return
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        complete = data[:data.rfind(b"\n") + 1]
        self.offset += len(complete)
        for line in complete.splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a crash mid-write, followed by later ones
            self.take(record)

    def take(self, record: dict) -> None:
        call = record.get("call", "")
        if record.get("event") == "start":
            self.started[call] = float(record.get("estimate") or 0.0)
        elif record.get("event") == "end":
            self.ended[call] = float(record.get("cost") or 0.0)

    def get_totals(self) -> dict:
        """{"billed": dollars of ended calls, "unknown": estimate of calls never ended, "calls", "open"}."""
        with self.lock:
            self.read_new()
            open_calls = [call for call in self.started if call not in self.ended]
            return {"billed": sum(self.ended.values()), "unknown": sum(self.started[c] for c in open_calls),
                    "calls": len(self.started), "open": len(open_calls)}

    def get_spent(self) -> float:
        totals = self.get_totals()
        return totals["billed"] + totals["unknown"]


class Budget:
    """Dollars for the whole run folder, read from its ledger: every process and every resume counts."""

    def __init__(self, limit: float, ledger: Ledger):
        self.limit, self.ledger = limit, ledger

    @property
    def spent(self) -> float:
        return self.ledger.get_spent()

    def spend(self, dollars: float) -> None:
        """Kept for callers that report costs: the ledger already has every call."""

    def is_spent(self) -> bool:
        return 0 < self.limit <= self.ledger.get_spent()
