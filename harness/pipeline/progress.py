"""Progress of a pipeline run: a live table on a terminal, one line per finished run elsewhere, and the
end-of-run table of exit statuses and cost per iteration and model. Fed by callbacks; knows nothing of the loop.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness.durations import format_duration


class Progress:
    def __init__(self, console: Console | None = None, live: bool | None = None):
        self.console = console or Console()
        self.use_live = self.console.is_terminal if live is None else live
        self.lock = threading.Lock()
        self.total: dict[tuple, int] = defaultdict(int)
        self.done: dict[tuple, int] = defaultdict(int)
        self.running: dict[tuple, int] = defaultdict(int)
        self.statuses: dict[tuple, Counter] = defaultdict(Counter)
        self.cost: dict[tuple, float] = defaultdict(float)
        self.waiting: dict[tuple, int] = defaultdict(int)
        self.started = time.monotonic()
        self.live: Live | None = None
        self.new_done = 0
        self.images_line = ""

    def expect(self, iteration: int, labels: list[str], runs_per_model: int) -> None:
        """Announce an iteration before it starts, so that the remaining time covers it too."""
        with self.lock:
            for label in labels:
                self.total[iteration, label] = runs_per_model

    def begin_iteration(self, iteration: int, labels: list[str], jobs, finished, waiting) -> None:
        with self.lock:
            for label in labels:
                self.total[iteration, label] = 0
            for job in jobs:
                self.total[iteration, job.label] += 1
            for label, info in finished:
                self.total[iteration, label] += 1
                self.count(iteration, label, info)
            for label, _ in waiting:
                self.total[iteration, label] += 1
                self.waiting[iteration, label] += 1
        self.console.print(f"iteration {iteration}: {len(jobs)} runs to do, {len(finished)} already finished"
                           + (f", {len(waiting)} waiting on unfinished earlier runs" if waiting else ""))
        if self.use_live and jobs:
            self.live = Live(self.make_table(), console=self.console, refresh_per_second=2, transient=False)
            self.live.start()

    def count(self, iteration: int, label: str, info: dict) -> None:
        key = (iteration, label)
        self.done[key] += 1
        self.statuses[key][info.get("exit_status") or "unknown"] += 1
        self.cost[key] += info.get("cost") or 0.0

    def start_run(self, iteration: int, label: str) -> None:
        with self.lock:
            self.running[iteration, label] += 1

    def finish_run(self, iteration: int, label: str, info: dict, started: bool = True) -> None:
        """A run ended (`started`: it was counted running; else it ended before, e.g. its image unavailable)."""
        with self.lock:
            self.running[iteration, label] -= 1 if started else 0
            self.count(iteration, label, info)
            self.new_done += 1
        if not self.live:
            self.console.print(f"  iteration {iteration} {label} {info.get('instance_id', '')}: {info.get('exit_status')}"
                               f" ({info.get('steps', 0)} steps, ${info.get('cost', 0):.4f})", highlight=False)

    def skip_run(self, iteration: int, label: str, reason: str) -> None:
        with self.lock:
            self.statuses[iteration, label][f"not started ({reason})"] += 1

    def refresh(self, images_line: str = "") -> None:
        """Redraw the live table, with the image pulls' state (`images_line`) under it."""
        self.images_line = images_line
        if self.live:
            self.live.update(self.make_table())

    def end_iteration(self, iteration: int) -> None:
        if self.live:
            self.live.update(self.make_table())
            self.live.stop()
            self.live = None

    def get_eta(self) -> str:
        elapsed = time.monotonic() - self.started
        left = sum(self.total.values()) - sum(self.done.values()) - sum(self.waiting.values())
        if not self.new_done or left <= 0:
            return "-"
        return format_duration(elapsed / self.new_done * left)

    def make_table(self, final: bool = False) -> Table:
        title = "patchmix: exit statuses and cost" if final else (
            f"patchmix  elapsed {format_duration(time.monotonic() - self.started)}  remaining ~{self.get_eta()}")
        table = Table(title=title, title_justify="left", caption=None if final else (self.images_line or None),
                      caption_justify="left")
        for column in ("iteration", "model", "done", "running", "exit statuses", "cost"):
            table.add_column(column, justify="right" if column in ("done", "running", "cost") else "left")
        with self.lock:
            for key in sorted(self.total):
                statuses = ", ".join(f"{name} {n}" for name, n in sorted(self.statuses[key].items()))
                table.add_row(str(key[0]), key[1], f"{self.done[key]}/{self.total[key]}", str(self.running[key]),
                              statuses or "-", f"${self.cost[key]:.4f}")
            table.add_row("all", "", f"{sum(self.done.values())}/{sum(self.total.values())}", "",
                          "", f"${sum(self.cost.values()):.4f}")
        return table

    def print_summary(self) -> None:
        self.console.print(self.make_table(final=True))
