"""`patchmix evaluate RUN`: score every predictions file of a run folder with the official SWE-bench harness.

    runs/<name>/eval/scratch/                      the harness's working directory (its logs/ and run reports)
    runs/<name>/eval/iter_<k>/<label>/report.json  the harness's run report for iter_<k>/<label>/preds.jsonl
    runs/<name>/eval/iter_<k>/<label>/meta.json    the content it scored (sha256), run ids, logs, retries, errors
    runs/<name>/eval/iter_<k>/<label>/flaky.json   with repeat > 1: each repetition's verdicts and the flips

    runs/<name>/eval/cache/<instance>/<sha256>.<key>.json one verdict per (instance, patch, scoring key), see
                                                   `harness.scoring.cache`

Scoring runs in patchmix's isolated containers (`harness.scoring.isolated`), or with `containers=OFFICIAL`
(`patchmix evaluate --official-containers`) in the harness's own; meta.json says which (`containers`), and so
does each cached verdict.

The images follow the run's `images` settings (config.yaml): with `images.name`, the rows are scored in the
images the runs ran in (a copy of the dataset in eval/scratch names them); a missing image is pulled just before
its instances are scored and, when patchmix pulled it, removed once no planned scoring needs it, within
`images.max_disk_gb` (`harness.scoring.imagebudget`); the run folder's images.json stays the list of what patchmix
pulled.

A predictions file is scored under a run id made of its place and a hash of its content and of its scoring key
(`harness.scoring.keys`: its instances' dataset rows, images and the containers),
`<name>.iter<k>.<label>.<hash[:10]>`, so an edited file, row or image is never served from the harness's
per-instance cache, and an unchanged one is not scored again. Of an edited (or new) file, only the instances
whose (instance, patch) has no cached verdict go to the harness: changing one prediction of five scores one.

Evaluation errors are not verdicts. An instance in the report's `error_ids` (the patch did not apply, the
image is missing, the container failed) or `infra_failure_ids` has no trustworthy verdict: the summary lists
it apart from the unresolved ones, and the next call scores only those instances again, under
`<run id>.retry<n>`, and merges the result into report.json. A patch that does not apply fails the same way
every time, so after `max_retries` retries an instance stays an evaluation error and is not tried again until
its predictions file changes. A harness crash stores no report; the next call scores that file again.

With `repeat=K` each file is also scored K-1 more times (`<run id>.rep<i>`); instances whose verdict differs
between repetitions are listed in flaky.json and the summary. report.json stays the first repetition's.
"""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import yaml

from harness.scoring.cache import VerdictCache, build_report, make_entries
from harness.scoring.cluster import make_cluster_evaluator
from harness.scoring.imagebudget import name_images, open_scoring_images, read_images_config
from harness.scoring.official import (GENERIC_ERROR, ISOLATED, LIMIT_KEYS, EvaluationFailed, evaluate_predictions,
    get_log_path, read_error_reasons, read_predictions)
from harness.scoring.keys import ScoringKey, combine_keys, get_scoring_keys, is_same_image, list_image_ids
from harness.exceptions import PatchmixError
from harness.pipeline.dataset import LOCAL_SUFFIXES
from harness.fileio import read_json, write_json_atomic
from harness.scoring.watch import ProgressWatch
from harness.scoring.verdicts import (CACHED, CRASHED, NO_PREDICTIONS, SCORED, PredsFile, find_flips,
    format_summary, get_eval_errors, get_verdicts, merge_retry, summarise_file)

MAX_RETRIES = 2
ITERATION_DIR = re.compile(r"^iter_(\d+)$")
UNSAFE_IN_RUN_ID = re.compile(r"[^A-Za-z0-9_.-]+")
@dataclass(frozen=True)
class Settings:
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


# ---------------------------------------------------------------- entry point


def evaluate_run(run_dir: Path, workers: int = 2, repeat: int = 1, timeout: int = 1800, log=print,
                 max_retries: int = MAX_RETRIES, executor: str = "local", address: str | None = None,
                 containers: str = ISOLATED) -> dict:
    """Bring the evaluation of every predictions file of `run_dir` up to date; return the summary.

    `workers` predictions files are scored at once (one harness worker each, or a share of `workers` when
    fewer files need scoring), in `containers` (ISOLATED or OFFICIAL). The summary is {"run", "harness_calls",
    "files": {"iter_<k>/<label>": entry}} with entries as made by `summarise_file`; a short table goes to `log`.
    """
    run_dir = Path(run_dir)
    files = find_preds_files(run_dir)
    config = read_run_config(run_dir)
    dataset, split = get_dataset(config, run_dir)
    images_config = read_images_config(config, run_dir)
    dataset = name_images(dataset, split, images_config, run_dir / "eval" / "scratch")
    images = open_scoring_images(images_config, run_dir, dataset, split, log) if executor == "local" else None
    evaluate = get_evaluator(executor, address)
    settings = Settings(run_name=str(config.get("name") or run_dir.name), dataset=dataset, split=split,
                        scratch=run_dir / "eval" / "scratch", timeout=timeout, repeat=max(1, repeat),
                        max_retries=max(0, max_retries), log=log, cache=run_dir / "eval" / "cache",
                        containers=containers, limits=get_container_limits(config),
                        keys=get_scoring_keys(dataset, split, containers),
                        evaluate=images.wrap(evaluate) if images else evaluate,
                        pro_scripts_dir=get_pro_scripts_dir(config))
    scorers = [FileScoring(preds, settings) for preds in files]
    busy = sum(not scorer.is_current() for scorer in scorers)
    parallel = max(1, min(workers, busy))
    share = max(1, workers // parallel)
    try:
        if images:
            images.plan([instance_id for scorer in scorers for instance_id in scorer.list_planned_ids()])
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            entries = list(pool.map(lambda scorer: scorer.run(share), scorers))
    finally:
        if images:
            images.close()
    summary = {"run": settings.run_name, "harness_calls": sum(e["harness_calls"] for e in entries),
               "files": {f"iter_{e['iteration']}/{e['label']}": e for e in entries}}
    for line in format_summary(summary):
        log(line)
    return summary


def get_evaluator(executor: str, address: str | None) -> Callable[..., dict]:
    """The harness call: here, or on the nodes of a Ray cluster (`--executor ray`)."""
    if executor == "ray":
        return make_cluster_evaluator(address)
    return evaluate_predictions


# ---------------------------------------------------------------- the run folder


def find_preds_files(run_dir: Path) -> list[PredsFile]:
    """Every iter_<k>/<label>/preds.jsonl of the run, by iteration then label."""
    if not run_dir.is_dir():
        raise PatchmixError(f"no run folder at {run_dir}; run `patchmix run CONFIG` first, "
                            "or pass the folder it made (runs/<name>)")
    found = []
    for path in run_dir.glob("iter_*/*/preds.jsonl"):
        match = ITERATION_DIR.match(path.parent.parent.name)
        if match:
            iteration, label = int(match[1]), path.parent.name
            found.append(PredsFile(iteration, label, path, run_dir / "eval" / f"iter_{iteration}" / label))
    if not found:
        raise PatchmixError(f"{run_dir} holds no predictions (iter_<k>/<model>/preds.jsonl); "
                            "run `patchmix run CONFIG` first")
    return sorted(found, key=lambda preds: (preds.iteration, preds.label))


def read_run_config(run_dir: Path) -> dict:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise PatchmixError(f"{path} does not exist, so the dataset to score against is unknown; "
                            "evaluate a folder made by `patchmix run CONFIG`")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise PatchmixError(f"{path} is not valid YAML ({error}); restore the config the run was made with") from None
    if not isinstance(config, dict):
        raise PatchmixError(f"{path} is not a pipeline config; restore the config the run was made with")
    return config


def get_dataset(config: dict, run_dir: Path) -> tuple[str, str]:
    """The dataset (a local path, made absolute, or a Hugging Face id) and split that config.yaml names."""
    dataset = config.get("dataset") or {}
    name = dataset.get("path") if isinstance(dataset, dict) else None
    if not name:
        raise PatchmixError(f"{run_dir / 'config.yaml'} names no dataset.path; restore the config the run was "
                            "made with")
    split = str(dataset.get("split") or "test")
    if not str(name).endswith(LOCAL_SUFFIXES):
        return str(name), split
    path = Path(name) if Path(name).is_absolute() else (run_dir / name).resolve()
    if not path.is_file():
        raise PatchmixError(f"the dataset {path} named in {run_dir / 'config.yaml'} no longer exists; "
                            "put it back, or set dataset.path in that file to where it is now")
    return str(path), split


def get_pro_scripts_dir(config: dict) -> str | None:
    """The folder of SWE-bench Pro's run scripts that config.yaml names (`dataset.pro_scripts_dir`), or None."""
    dataset = config.get("dataset") if isinstance(config.get("dataset"), dict) else {}
    return str(dataset["pro_scripts_dir"]) if dataset.get("pro_scripts_dir") else None


def get_container_limits(config: dict) -> dict:
    """The limits of the run's agent containers (config `defaults.container`), which its scoring containers take."""
    defaults = config.get("defaults") if isinstance(config.get("defaults"), dict) else {}
    container = defaults.get("container") if isinstance(defaults.get("container"), dict) else {}
    return {key: container[key] for key in LIMIT_KEYS if key in container}


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


# ---------------------------------------------------------------- one predictions file


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


# ---------------------------------------------------------------- reports (pure)
