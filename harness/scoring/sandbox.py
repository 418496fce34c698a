"""The hardened container an instance is scored in, shared by the harness's steps (`harness.scoring.isolated`) and
SWE-bench Pro's (`harness.scoring.pro`): made like an agent's
(`harness.agent.environment.container_options.make_container_options`: no network, capabilities dropped,
no-new-privileges, limits, labelled `patchmix`), the instance's log folder where the harness keeps it, one
instance's fault logged as the harness logs it and never raised, and the check that tells a failure for want of
network from a verdict.
"""

from __future__ import annotations

import json
import re
import traceback
import uuid
from pathlib import Path
from typing import Callable

import docker
import requests

from harness.agent.config import ContainerConfig
from harness.agent.environment.container_options import make_container_options
from harness.scoring.official import NEEDS_NETWORK, OFFICIAL_CONTAINERS_FLAG
from swebench.harness.constants import LOG_INSTANCE, LOG_REPORT, RUN_EVALUATION_LOG_DIR
from swebench.harness.utils import EvaluationError
from swebench.image_builder.constants import CONTAINER_USER
from swebench.logger import close_logger, setup_logger

NETWORK_FAILURES = re.compile("|".join(re.escape(text) for text in (
    "Temporary failure in name resolution", "Name or service not known", "Could not resolve host",
    "No address associated with hostname", "Network is unreachable", "Failed to establish a new connection",
    "getaddrinfo ENOTFOUND", "getaddrinfo EAI_AGAIN", "network is unreachable", "dial tcp: lookup",
)))
"""What a command that reached for the network prints in a container that has none."""
UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def score_in_container(instance_id: str, image: str, pred: dict, client, run_id: str, config: ContainerConfig,
                       steps: Callable) -> tuple[str, dict] | None:
    """(instance_id, report) from `steps(container, log_dir, logger)` run in a started container of `image`
    (its report kept in report.json, and read from there when already scored), or None with the reason in the
    instance's run_instance.log (report.json is then missing, which makes it an evaluation error)."""
    log_dir = get_log_dir(run_id, pred, instance_id)
    if (log_dir / LOG_REPORT).exists():
        return instance_id, json.loads((log_dir / LOG_REPORT).read_text())
    log_dir.mkdir(parents=True, exist_ok=True)
    logger = setup_logger(instance_id, log_dir / LOG_INSTANCE)
    container = None
    try:
        container = start_container(image, instance_id, client, run_id, config, logger)
        report = steps(container, log_dir, logger)
        (log_dir / LOG_REPORT).write_text(json.dumps(report, indent=4))
        return instance_id, report
    except EvaluationError as error:
        logger.info(traceback.format_exc())
        print(error)
    except Exception as error:  # noqa: BLE001 - as in the harness: one instance's fault never stops the others
        logger.error(f"Error in evaluating model for {instance_id}: {error}\n{traceback.format_exc()}\n"
                     f"Check ({logger.log_file}) for more information.")
    finally:
        remove_container(container, logger)
        close_logger(logger)
    return None


def get_log_dir(run_id: str, pred: dict, instance_id: str) -> Path:
    model = (pred.get("model_name_or_path") or "None").replace("/", "__")
    return RUN_EVALUATION_LOG_DIR / run_id / model / instance_id


def start_container(image: str, instance_id: str, client, run_id: str, config: ContainerConfig, logger):
    """A started container of the row's image, hardened like an agent's; the image is pulled when missing."""
    get_image(client, image, instance_id, logger)
    name = UNSAFE_IN_NAME.sub("-", f"patchmix.eval.{instance_id.lower()}.{run_id}.{uuid.uuid4().hex[:6]}")
    labels = {"patchmix.role": "scoring", "patchmix.run_id": run_id}
    options = make_container_options(image, config, labels, name) | {"user": CONTAINER_USER}
    container = client.containers.create(**options)
    logger.info(f"Container for {instance_id} created: {container.id}")
    container.start()
    logger.info(f"Container for {instance_id} started, isolated: {describe_isolation(container)}")
    return container


def get_image(client, image: str, instance_id: str, logger) -> None:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        logger.info("Image not found locally, attempting to pull...")
        try:
            client.images.pull(image)
        except (docker.errors.APIError, requests.exceptions.RequestException) as error:
            raise EvaluationError(instance_id, f"Image {image} not found for {instance_id} ({error})",
                                  logger) from error


def describe_isolation(container) -> str:
    """The container's isolation as docker reports it, for the instance log."""
    container.reload()
    host = container.attrs["HostConfig"]
    settings = {key: host.get(key) for key in ("NetworkMode", "CapDrop", "CapAdd", "SecurityOpt", "Memory",
                                                "PidsLimit", "NanoCpus", "Privileged")}
    return json.dumps(settings | {"Labels": container.attrs["Config"].get("Labels") or {}})


def check_network(result: dict, output: str, instance_id: str, logger) -> None:
    """An eval script that failed and reached for the network failed for want of it: an evaluation error that
    says so, not a verdict (with a network, in the harness's own containers, it might have passed)."""
    found = NETWORK_FAILURES.search(output)
    if result["resolved"] or found is None:
        return
    start = max(output.rfind("\n", 0, found.start()) + 1, found.start() - 120)
    line = output[start:found.end()].strip()
    raise EvaluationError(instance_id, f"{NEEDS_NETWORK} (its output: {line!r}); score it with "
                          f"`patchmix evaluate {OFFICIAL_CONTAINERS_FLAG}`, whose containers have one", logger)


def remove_container(container, logger) -> None:
    if container is None:
        return
    try:
        container.remove(force=True, v=True)
        logger.info(f"Container {container.name} removed.")
    except docker.errors.NotFound:
        return
    except (docker.errors.APIError, requests.exceptions.RequestException) as error:
        logger.error(f"Failed to remove container {container.name}: {error}; remove it with "
                     f"`docker rm -f {container.name}`")
