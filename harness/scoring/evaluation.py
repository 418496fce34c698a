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

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from harness.scoring.cluster import make_cluster_evaluator
from harness.scoring.filescoring import FileScoring, Settings
from harness.scoring.imagebudget import name_images, open_scoring_images, read_images_config
from harness.scoring.keys import get_scoring_keys
from harness.scoring.official import ISOLATED, evaluate_predictions
from harness.scoring.runfolder import (find_preds_files, get_container_limits, get_dataset, get_pro_scripts_dir,
    read_run_config)
from harness.scoring.verdicts import format_summary

MAX_RETRIES = 2


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
