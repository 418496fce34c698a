"""The evaluation of one predictions file, brought up to date: scored first under a run id of its content (only
the instances with no cached verdict), its evaluation errors retried, its repetitions added; report.json,
meta.json and flaky.json written beside it. The run-wide picture (run ids, retries, repetitions, caching) is in
`harness.scoring.evaluation`, which makes one `FileScoring` per file with the run's `Settings`."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from harness.exceptions import PatchmixError
from harness.fileio import read_json, write_json_atomic
from harness.scoring.cache import VerdictCache, build_report, make_entries
from harness.scoring.keys import ScoringKey, combine_keys, is_same_image, list_image_ids
from harness.scoring.official import (GENERIC_ERROR, ISOLATED, EvaluationFailed, evaluate_predictions, get_log_path,
    read_error_reasons, read_predictions)
from harness.scoring.verdicts import (CACHED, CRASHED, NO_PREDICTIONS, SCORED, PredsFile, find_flips,
    get_eval_errors, get_verdicts, merge_retry, summarise_file)
from harness.scoring.watch import ProgressWatch

UNSAFE_IN_RUN_ID = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Settings:
    """What every predictions file of one run is scored with."""

    run_name: str
    dataset: str
    split: str
    scratch: Path
    timeout: int
    repeat: int
    max_retries: int
    log: Callable[[str], None]
    cache: Path
    containers: str = ISOLATED
    """Where candidates run while scored: ISOLATED (patchmix's containers) or OFFICIAL (the harness's own)."""
    limits: dict | None = None
    """The isolated scoring containers' memory, pids and CPU limits: the run's `defaults.container` ones."""
    keys: dict[str, ScoringKey] | None = None
    """instance_id -> scoring key of every row of the dataset (`harness.scoring.keys`)."""
    evaluate: Callable[..., dict] = evaluate_predictions
    """The harness call: `evaluate_predictions` here, or its Ray counterpart (`harness.scoring.cluster`)."""
    pro_scripts_dir: str | None = None
    """The run scripts of SWE-bench Pro rows (config `dataset.pro_scripts_dir`), passed on only when set."""


def make_safe(name: str) -> str:
    """A name fit for a run id, which the harness puts into container names and paths."""
    return UNSAFE_IN_RUN_ID.sub("-", name).strip("-.") or "run"


def make_run_id(run_name: str, iteration: int, label: str, sha: str) -> str:
    return f"{make_safe(run_name)}.iter{iteration}.{make_safe(label)}.{sha[:10]}"


def hash_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def count_predictions(path: Path) -> int:
    """How many predictions the file holds; a line that is not JSON is an error that names it."""
    lines = [(number, line) for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1)
             if line.strip()]
    for number, line in lines:
        try:
            json.loads(line)
        except json.JSONDecodeError as error:
            raise PatchmixError(f"{path} line {number} is not JSON ({error.msg}); rerun the iteration with "
                                "`patchmix run CONFIG` to rewrite the file") from None
    return len(lines)


def read_patches(path: Path) -> dict[str, str]:
    """instance_id -> model_patch of a predictions file."""
    return {row["instance_id"]: row.get("model_patch") or "" for row in read_predictions(Path(path))}


def read_optional_json(path: Path):
    return read_json(path) if path.is_file() else None


def get_time() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class FileScoring:
    """Brings the stored evaluation of one predictions file up to date: first scoring, retries, repetitions."""

    def __init__(self, preds: PredsFile, settings: Settings):
        self.preds, self.settings = preds, settings
        self.sha = hash_file(preds.path)
        self.count = count_predictions(preds.path)
        self.meta = read_optional_json(preds.out_dir / "meta.json") or {}
        ids = list(read_patches(preds.path)) if self.count else []
        self.scoring_key = combine_keys(settings.keys or {}, ids)
        self.image_ids = list_image_ids(settings.keys or {}, ids)
        self.calls = 0
        self.workers = 1

    def is_current(self) -> bool:
        """Nothing to do: this content is scored, no retry is due and every repetition asked for is done."""
        if not self.count:
            return True
        done = 1 + len(self.meta.get("repetitions", []))
        return self.is_scored() and not self.get_retry_ids() and done >= self.settings.repeat

    def is_scored(self) -> bool:
        same = self.meta.get("preds_sha256") == self.sha and self.meta.get("status") == SCORED
        same = same and self.meta.get("scoring_key") == self.scoring_key and self.has_same_images()
        return same and (self.preds.out_dir / "report.json").is_file()

    def has_same_images(self) -> bool:
        recorded = self.meta.get("image_ids") or {}
        return all(is_same_image(recorded.get(i), image_id) for i, image_id in self.image_ids.items())

    def list_planned_ids(self) -> list[str]:
        """The instances the next `run` sends to the harness, once per time (their images are pulled ahead)."""
        if self.is_current():
            return []
        predictions = read_patches(self.preds.path)
        if self.is_scored():
            ids, done = self.get_retry_ids(), 1 + len(self.meta.get("repetitions", []))
        else:
            cache = self.get_cache()
            ids, done = [i for i, patch in predictions.items() if cache.get(i, patch) is None], 1
        return [i for i in ids + list(predictions) * max(0, self.settings.repeat - done) if predictions.get(i)]

    def get_retry_ids(self) -> list[str]:
        if len(self.meta.get("retries", [])) >= self.settings.max_retries:
            return []
        return get_eval_errors(self.read_report() or {})

    def run(self, workers: int) -> dict:
        self.workers = workers
        if not self.count:
            self.settings.log(f"{self.preds.key}: {self.preds.path} holds no predictions; nothing to score")
            return summarise_file(self.preds, NO_PREDICTIONS, None, {}, None, 0) | {"retry_next_call": False}
        try:
            status = self.update()
        except EvaluationFailed as error:
            status = self.record_crash(error)
        flaky = read_optional_json(self.preds.out_dir / "flaky.json")
        entry = summarise_file(self.preds, status, self.read_report(), self.meta, flaky, self.calls)
        return entry | {"retry_next_call": status == CRASHED or bool(self.get_retry_ids())}

    def update(self) -> str:
        if self.is_current():
            self.settings.log(f"{self.preds.key}: unchanged since {self.meta.get('scored_at')} "
                              f"(run id {self.meta.get('run_id')}); skipped")
            return CACHED
        if not self.is_scored():
            self.score_first()
        elif ids := self.get_retry_ids():
            self.retry(ids)
        self.add_repetitions()
        return SCORED

    def score_first(self) -> None:
        """Score this content under the run id of its content, but only the instances whose (instance, patch)
        has no cached verdict; the others come from the cache. Results of earlier content are dropped."""
        for name in ("report.json", "flaky.json"):
            (self.preds.out_dir / name).unlink(missing_ok=True)
        images = json.dumps(self.image_ids, sort_keys=True)
        content = hashlib.sha256(f"{self.sha}.{self.scoring_key}.{images}".encode()).hexdigest()
        run_id = make_run_id(self.settings.run_name, self.preds.iteration, self.preds.label, content)
        self.meta = {"preds": str(self.preds.path), "preds_sha256": self.sha, "scoring_key": self.scoring_key,
                     "image_ids": self.image_ids, "containers": self.settings.containers, "run_id": run_id,
                     "status": "scoring", "harness_log": str(get_log_path(self.settings.scratch, run_id)),
                     "retries": [], "repetitions": []}
        predictions = read_patches(self.preds.path)
        cache = self.get_cache()
        entries = {instance_id: cache.get(instance_id, patch) for instance_id, patch in predictions.items()}
        todo = sorted(instance_id for instance_id, entry in entries.items() if entry is None)
        fresh, errors = None, {}
        if todo:
            fresh = self.call_harness(run_id, todo if len(todo) < len(predictions) else None)
            cache.store(predictions, fresh, run_id, todo)
            entries |= {i: e for i, e in make_entries(predictions, fresh, run_id).items() if i in todo}
            errors = self.read_errors(run_id, fresh)
        else:
            self.settings.log(f"{self.preds.key}: every (instance, patch) of the new content has a cached verdict")
        self.meta |= {"status": SCORED, "scored_at": get_time(), "errors": errors, "scored_ids": todo,
                      "cached_ids": sorted(set(predictions) - set(todo))}
        self.save(build_report(predictions, entries, fresh))

    def retry(self, ids: list[str]) -> None:
        """Score again only the instances that had no verdict, and merge their new results into report.json."""
        run_id = f"{self.meta['run_id']}.retry{len(self.meta['retries']) + 1}"
        retried = self.call_harness(run_id, ids)
        self.get_cache().store(read_patches(self.preds.path), retried, run_id, ids)
        report = merge_retry(self.read_report(), retried, ids)
        errors = self.read_errors(run_id, retried)
        self.meta["errors"] = {i: e for i, e in self.meta.get("errors", {}).items() if i not in ids} | errors
        self.meta["retries"].append({"run_id": run_id, "at": get_time(), "ids": ids, "still_errors": sorted(errors),
                                     "containers": self.settings.containers,
                                     "harness_log": str(get_log_path(self.settings.scratch, run_id))})
        self.save(report)

    def add_repetitions(self) -> None:
        repetitions = self.meta["repetitions"]
        for number in range(len(repetitions) + 2, self.settings.repeat + 1):
            run_id = f"{self.meta['run_id']}.rep{number}"
            verdicts = get_verdicts(self.call_harness(run_id))
            repetitions.append({"run_id": run_id, "at": get_time(), "verdicts": verdicts,
                                "containers": self.settings.containers,
                                "harness_log": str(get_log_path(self.settings.scratch, run_id))})
            self.save_meta()
        if repetitions:
            self.write_flaky()

    def write_flaky(self) -> None:
        runs = [(self.meta["run_id"], get_verdicts(self.read_report()))]
        runs += [(rep["run_id"], rep["verdicts"]) for rep in self.meta["repetitions"]]
        ids = sorted(set().union(*(verdicts for _, verdicts in runs)))
        write_json_atomic(self.preds.out_dir / "flaky.json", {
            "repetitions": len(runs),
            "run_ids": [run_id for run_id, _ in runs],
            "flaky_ids": find_flips([verdicts for _, verdicts in runs]),
            "verdicts": {i: [verdicts.get(i) for _, verdicts in runs] for i in ids},
        })

    def call_harness(self, run_id: str, instance_ids: list[str] | None = None) -> dict:
        self.calls += 1
        what = f"{len(instance_ids)} instances with no verdict yet" if instance_ids else "the predictions"
        self.settings.log(f"{self.preds.key}: scoring {what} under run id {run_id}")
        total = len(instance_ids) if instance_ids else self.count
        pro = {"pro_scripts_dir": self.settings.pro_scripts_dir} if self.settings.pro_scripts_dir else {}
        with ProgressWatch(self.settings.scratch, run_id, total, self.settings.log, prefix=f"{self.preds.key}: "):
            report = self.settings.evaluate(self.preds.path, self.settings.dataset, run_id, self.settings.scratch,
                                            workers=self.workers, timeout=self.settings.timeout,
                                            instance_ids=instance_ids, split=self.settings.split,
                                            containers=self.settings.containers, limits=self.settings.limits, **pro)
        self.meta.pop("crash", None)
        return report

    def read_errors(self, run_id: str, report: dict) -> dict[str, dict]:
        """Why each instance of `report` has no verdict: the instance log's reason, or the harness's infra class."""
        errors = read_error_reasons(self.settings.scratch, run_id, get_eval_errors(report))
        for instance_id, reason in report.get("failure_reasons", {}).items():
            if instance_id in report.get("infra_failure_ids", []) and errors[instance_id]["reason"] == GENERIC_ERROR:
                errors[instance_id]["reason"] = f"likely infrastructure failure ({reason})"
        return errors

    def record_crash(self, error: EvaluationFailed) -> str:
        """A crashed harness leaves no verdicts: keep what was stored, note the crash; the next call tries again."""
        lines = [line for line in str(error).splitlines() if line.strip()]
        message = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1].strip()}"
        self.meta["crash"] = {"at": get_time(), "message": message}
        if self.meta.get("status") != SCORED:
            self.meta["status"] = CRASHED
        self.save_meta()
        self.settings.log(f"{self.preds.key}: the harness crashed; scored again on the next call. {message}")
        return CRASHED

    def get_cache(self) -> VerdictCache:
        return VerdictCache(self.settings.cache, self.settings.keys or {}, self.settings.containers)

    def read_report(self) -> dict | None:
        return read_optional_json(self.preds.out_dir / "report.json")

    def save(self, report: dict) -> None:
        write_json_atomic(self.preds.out_dir / "report.json", report)
        self.save_meta()

    def save_meta(self) -> None:
        write_json_atomic(self.preds.out_dir / "meta.json", self.meta)
