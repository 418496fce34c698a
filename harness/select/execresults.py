"""The execution signals as a file: `execution.jsonl` beside the picks, one line per checked candidate
(`instance_id`, `system`, `applies`, `broken`: the repository's tests it broke that passed before), and read back onto
a pool's candidates (`patchmix select --execution FILE`), so that a combiner is fitted with them as features.
"""

from __future__ import annotations

from pathlib import Path

from harness.exceptions import PatchmixError
from harness.fileio import read_jsonl
from harness.select.pool import Candidate
from harness.select.selector import Pick

EXECUTION_FILE = "execution.jsonl"


def list_execution(picks: list[Pick]) -> list[dict]:
    """The execution signals of every checked candidate of the picks."""
    return [{"instance_id": p.instance_id, "system": c.system, **c.execution}
            for p in picks for c in p.candidates if c.execution is not None]


def attach_execution(pool: list[Candidate], paths: list[Path]) -> int:
    """Each candidate's execution signals from the files (the last file wins); returns how many were found."""
    found: dict[tuple[str, str], dict] = {}
    for path in paths:
        try:
            for line in read_jsonl(path):
                broken = line["broken"]
                if not isinstance(broken, list) or not all(isinstance(test, str) for test in broken):
                    raise ValueError(f"`broken` of {line['system']} on {line['instance_id']} is not a list of tests")
                found[(line["instance_id"], line["system"])] = {"applies": bool(line["applies"]), "broken": broken}
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise PatchmixError(f"{path}: not an execution file ({error}); give the execution.jsonl that "
                                "`patchmix select --dataset` wrote beside its picks") from None
    for candidate in pool:
        candidate.execution = found.get((candidate.instance_id, candidate.system), candidate.execution)
    return sum(c.execution is not None for c in pool)
