"""Where agent runs execute: a local thread pool (the default) or a Ray cluster, behind one small seam.

An executor offers what `Pipeline` needs and nothing more:

    get_slots(workers) -> int      how many runs may be under way at once
    run_instance(...)              the same signature and result as `harness.agent.attempt.run_instance`
    stop()                         end the runs under way (Ctrl-C): their containers go, they end `interrupted`
    close()                        release the executor's resources

The pipeline keeps planning, the budget, the ledger, the run folder and the progress in its own process; an
executor only decides where the agent run happens. Both executors leave the same files in the run folder.
"""

from __future__ import annotations

from harness.pipeline.dataset import get_image_name
from harness.pipeline.executors.local import LocalExecutor
from harness.pipeline.executors.raycluster import RayExecutor


def make_executor(config, provider_concurrency: dict[str, int]):
    """The executor an `ExecutorConfig` asks for; Ray is imported only when it is used (`RayExecutor`)."""
    if config.kind == "local":
        return LocalExecutor()
    return RayExecutor(config, provider_concurrency)


def start_executor(config, rows: list[dict]):
    """The pipeline's executor, checked: on Ray, every image on some node and the key variables set on all."""
    executor = make_executor(config.executor, config.provider_concurrency)
    if executor.kind == "ray":
        executor.use_images(config.images)
        try:
            variables = sorted({model.api_key_env for model in config.models.values() if model.api_key_env})
            executor.check_cluster(sorted({get_image_name(row) for row in rows}), variables)
        except BaseException:
            executor.close()
            raise
    return executor


__all__ = ["LocalExecutor", "make_executor", "start_executor"]
