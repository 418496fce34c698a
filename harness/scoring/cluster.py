"""`patchmix evaluate --executor ray`: each call of the official harness runs on a node of a Ray cluster.

The node gets the predictions file's content, scores it in a scratch folder of its own (its Docker, its images,
isolated containers unless `--official-containers`; the dataset path, and SWE-bench Pro's scripts folder when one
is set, must exist there too) and returns the harness's report with the per-instance logs as a tar archive, which
is unpacked into the run's scratch folder here: the run folder is written only by this process, and what follows
(verdict cache, retries, repetitions, reports) is the same as for a local harness call. A call takes as many
`patchmix_container` slots as harness workers.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
from pathlib import Path

from harness.scoring.official import ISOLATED, evaluate_predictions, get_log_path

CONTAINER_RESOURCE = "patchmix_container"


def score_on_node(file_name: str, content: bytes, dataset: str, run_id: str, workers: int, timeout: int,
                  instance_ids: list[str] | None, split: str, containers: str,
                  limits: dict | None, pro_scripts_dir: str | None = None) -> tuple[dict, bytes]:
    """Runs on a node: the harness on these predictions; (report, tar of logs/run_evaluation/<run_id>)."""
    with tempfile.TemporaryDirectory(prefix="patchmix-eval-") as tmp:
        preds = Path(tmp) / file_name
        preds.write_bytes(content)
        scratch = (Path(tmp) / "scratch").resolve()
        report = evaluate_predictions(preds, dataset, run_id, scratch, workers=workers, timeout=timeout,
                                      instance_ids=instance_ids, split=split, containers=containers, limits=limits,
                                      pro_scripts_dir=pro_scripts_dir)
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            for path in (scratch / "logs", get_log_path(scratch, run_id)):
                if path.exists():
                    archive.add(path, arcname=str(path.relative_to(scratch)))
        return report, buffer.getvalue()


def make_cluster_evaluator(address: str | None):
    """A function with `evaluate_predictions`' signature that scores on the Ray cluster at `address`."""
    import ray  # lazy: Ray is an optional extra, needed only with `--executor ray`

    if not ray.is_initialized():
        ray.init(address=address or "auto", namespace="patchmix", log_to_driver=False)
    task = ray.remote(num_cpus=0, max_retries=2)(score_on_node)

    def evaluate(predictions_path, dataset_path, run_id, scratch_dir, workers=1, timeout=1800, instance_ids=None,
                 split="test", containers=ISOLATED, limits=None, pro_scripts_dir=None) -> dict:
        path = Path(predictions_path)
        ref = task.options(resources={CONTAINER_RESOURCE: max(1, workers)}).remote(
            path.name, path.read_bytes(), str(dataset_path), run_id, workers, timeout, instance_ids, split,
            containers, limits, pro_scripts_dir)
        report, logs = ray.get(ref)
        scratch = Path(scratch_dir)
        scratch.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(logs), mode="r:gz") as archive:
            archive.extractall(scratch, filter="data")
        return report

    return evaluate
