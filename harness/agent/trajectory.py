"""The trajectory of one run on disk, saved at O(new step) per step with the crash safety of an atomic rewrite.

While a run is under way, `<id>.traj.json` is a small header (the config, the info at start and
`"in_progress": true`), written as the run starts, and every step appends its new messages, its step record
and the run's info as lines of `<id>.traj.steps.jsonl`, each text masked once as it arrives. Every attempt of
every model call is appended as it starts (`pending`) and as it ends (status, seconds, error, cost), so a run
waiting on a slow server shows where it is; `attempts` holds the last record of each (step, attempt).
When the run finishes, the whole trajectory is written once, atomically, to `<id>.traj.json` (the public
format: one JSON object) and the step log is removed.

`read_trajectory` is the one reader: it gives the same dict for a finished run and, for a run under way or
killed at any moment, the header with every step whose line was written in full (a torn last line is ignored).
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

from harness.fileio import write_raw_atomic
from harness.secrets import redact_data

TRAJECTORY_FORMAT = "patchmix-traj-1"
STEPS_SUFFIX = ".steps.jsonl"


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def get_steps_path(path: Path) -> Path:
    """`x.traj.json` -> `x.traj.steps.jsonl`, the step log of a run under way."""
    path = Path(path)
    stem = path.name[:-len(".json")] if path.name.endswith(".json") else path.name
    return path.with_name(stem + STEPS_SUFFIX)


def dump(data) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


class Trajectory:
    """The record of one run: `save` after every step appends what is new; a finished run is one JSON file."""

    def __init__(self, path: Path, header: dict):
        self.path = Path(path)
        self.steps_path = get_steps_path(self.path)
        self.header = redact_data({"format": TRAJECTORY_FORMAT, **header})
        self.messages: list[dict] = []
        self.steps: list[dict] = []
        self.attempts: list[dict] = []
        self.info = {"exit_status": None, "started_at": now()}
        self.started = time.monotonic()
        self.log = None

    @property
    def data(self) -> dict:
        """The whole trajectory as `read_trajectory` gives it."""
        return {**self.header, "messages": self.messages, "steps": self.steps, "attempts": self.attempts,
                "info": self.info}

    def save(self, state=None, **info) -> None:
        """Records what `state` (an AgentState) holds beyond what was saved, and updates the info with `info`."""
        lines = []
        if state is not None:
            lines += self._take_new(state)
            info = {"exit_status": state.exit_status, "exit_detail": state.exit_detail, "cost": state.cost,
                    "tokens_in": state.tokens_in, "tokens_out": state.tokens_out,
                    "tokens_cached": getattr(state, "tokens_cached", 0),
                    "cost_uncached": getattr(state, "cost_uncached", state.cost),
                    "steps": len(state.steps),
                    **info}
        self.info.update(redact_data(info), wall_seconds=round(time.monotonic() - self.started, 3))
        if self.info.get("finished_at"):
            self._write_whole()
            return
        lines.append(dump({"info": self.info}))
        self._append(lines)

    def record_attempt(self, record: dict) -> None:
        """One model-call attempt as it starts or ends ({"step", "attempt", "status", ...}), on disk at once."""
        record = redact_data(record)
        merge_attempt(self.attempts, record)
        if not self.info.get("finished_at"):
            self._append([dump({"attempt": record})])

    def _take_new(self, state) -> list[str]:
        new_messages = redact_data(state.messages[len(self.messages):])
        new_steps = redact_data(state.steps[len(self.steps):])
        self.messages += new_messages
        self.steps += new_steps
        return [dump({"message": m}) for m in new_messages] + [dump({"step": s}) for s in new_steps]

    def _append(self, lines: list[str]) -> None:
        if self.log is None:
            self.steps_path.unlink(missing_ok=True)  # an earlier attempt's log
            write_raw_atomic(self.path, dump({**self.header, "messages": [], "steps": [], "attempts": [],
                                               "info": self.info, "in_progress": True}) + "\n")
            self.log = open(self.steps_path, "a", encoding="utf-8")
        self.log.write("".join(line + "\n" for line in lines))
        self.log.flush()  # in the kernel's hands: survives a SIGKILL of this process

    def _write_whole(self) -> None:
        write_raw_atomic(self.path, dump_whole(self.data))
        self.close()
        self.steps_path.unlink(missing_ok=True)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None


def dump_whole(data: dict) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def write_trajectory(path: Path, data: dict) -> None:
    """Writes a whole trajectory (of a run that finished elsewhere) atomically, masked, as a finished run."""
    path = Path(path)
    write_raw_atomic(path, dump_whole(redact_data(data)))
    get_steps_path(path).unlink(missing_ok=True)


def read_trajectory(path: Path) -> dict:
    """The trajectory at `path`, finished or not; OSError or ValueError if the header is unreadable."""
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data.pop("in_progress", False):
        return data
    data["messages"], data["steps"] = list(data.get("messages") or []), list(data.get("steps") or [])
    data["attempts"] = list(data.get("attempts") or [])
    for record in read_log(get_steps_path(path)):
        if "message" in record:
            data["messages"].append(record["message"])
        elif "step" in record:
            data["steps"].append(record["step"])
        elif "attempt" in record:
            merge_attempt(data["attempts"], record["attempt"])
        elif "info" in record:
            data["info"] = record["info"]
    return data


def merge_attempt(attempts: list[dict], record: dict) -> None:
    """Replace the record of the same (step, attempt) (its `pending` start) by `record`, or append it."""
    key = (record.get("step"), record.get("attempt"))
    for index, old in enumerate(attempts):
        if (old.get("step"), old.get("attempt")) == key:
            attempts[index] = {**old, **record}
            return
    attempts.append(record)


def read_log(path: Path) -> list[dict]:
    """The step log's records written in full; a line cut by a crash (the last one) is left out."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    records = []
    for line in text.split("\n"):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # empty, or torn by a kill mid-write
    return records


def read_info(path: Path) -> dict | None:
    """The `info` of the trajectory at `path` (finished or under way), None if there is none."""
    path = Path(path)
    if not path.is_file():
        return None
    return read_trajectory(path).get("info")
