"""The run-folder lock: one `patchmix run` per run folder at a time.

`runs/<name>/.lock` holds the holder's pid, host and start time. It is created with O_EXCL, so of two processes
starting together exactly one gets it. A lock left by a process that no longer runs on this host is taken over;
a lock held by a live process, or by another host (which we cannot check), is refused with a line naming it.
"""

from __future__ import annotations

import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from harness.exceptions import PatchmixError

LOCK_NAME = ".lock"


class FolderBusy(PatchmixError):
    """Another process works on this run folder."""


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_NAME
        self.held = False

    def acquire(self) -> None:
        """Take the lock, taking over a stale one; FolderBusy if a live process holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            if self.try_create():
                return
            holder = self.read_holder()
            if holder is None and self.is_fresh():
                holder = {"pid": "(starting)", "host": "this host", "since": "a moment ago"}
            if holder is not None and not self.is_stale(holder):
                raise FolderBusy(
                    f"{self.path.parent} is in use by patchmix pid {holder.get('pid')} on host {holder.get('host')} "
                    f"(since {holder.get('since')}); wait for it to end or stop it, or remove {self.path} if that "
                    "process is gone")
            self.path.unlink(missing_ok=True)  # stale: its process is dead
        raise FolderBusy(f"could not take the lock {self.path}: other processes keep taking it; try again")

    def try_create(self) -> bool:
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(record) + "\n")
        self.held = True
        return True

    def read_holder(self) -> dict | None:
        """The holder's record; None for an unreadable lock (cut off while written: treated as stale)."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def is_fresh(self, seconds: float = 5.0) -> bool:
        """A lock file younger than `seconds`: its holder may still be writing it."""
        try:
            return datetime.now().timestamp() - self.path.stat().st_mtime < seconds
        except OSError:
            return False

    def is_stale(self, holder: dict) -> bool:
        if holder.get("host") != socket.gethostname():
            return False
        pid = holder.get("pid")
        if pid == "(starting)":
            return False
        return not isinstance(pid, int) or (pid != os.getpid() and not is_alive(pid))

    def release(self) -> None:
        if self.held:
            holder = self.read_holder()
            if holder and holder.get("pid") == os.getpid():
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
