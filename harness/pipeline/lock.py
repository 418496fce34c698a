"""The run-folder lock: one `patchmix run` or `patchmix evaluate` per run folder at a time.

`runs/<name>/.lock` is held with `flock`, which the kernel takes atomically and drops when its holder dies, so
of two processes starting together exactly one gets it, whether a lock file was left behind or not, and a
dead holder's lock is free at once. The file holds the holder's pid, host and start time for the line that
names it. The holder deletes the file when it is done; a process that locked a file since deleted tries again.
A file written by a process on another host (a shared file system, where the lock cannot be trusted) is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from harness.exceptions import PatchmixError

LOCK_NAME = ".lock"


class FolderBusy(PatchmixError):
    """Another process works on this run folder."""


STARTING = {"pid": "(starting)", "host": "this host", "since": "a moment ago"}


class RunLock:
    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_NAME
        self.fd: int | None = None

    @property
    def held(self) -> bool:
        return self.fd is not None

    def acquire(self) -> None:
        """Take the lock; FolderBusy if another process (or another RunLock of this one) holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise FolderBusy(self.describe_holder(self.read_holder() or STARTING)) from None
            if not self.is_current_file(fd):  # its holder deleted it between our open and our lock
                os.close(fd)
                continue
            holder = self.read_holder()
            if holder and holder.get("host") not in (None, socket.gethostname()):
                os.close(fd)
                raise FolderBusy(self.describe_holder(holder))
            self.write_record(fd)
            return
        raise FolderBusy(f"could not take the lock {self.path}: other processes keep taking it; try again")

    def is_current_file(self, fd: int) -> bool:
        try:
            return os.path.samestat(os.fstat(fd), os.stat(self.path))
        except FileNotFoundError:
            return False

    def write_record(self, fd: int) -> None:
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        self.fd = fd

    def describe_holder(self, holder: dict) -> str:
        return (f"{self.path.parent} is in use by patchmix pid {holder.get('pid')} on host {holder.get('host')} "
                f"(since {holder.get('since')}); wait for it to end or stop it, or remove {self.path} if that "
                "process is gone")

    def read_holder(self) -> dict | None:
        """The holder's record; None for an empty or unreadable one (its holder is still writing it)."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)  # still ours: nobody else can hold it while we do
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
