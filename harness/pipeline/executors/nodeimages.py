"""A Ray node's own images: a run given to a node whose Docker lacks the run's image pulls it there first (paced,
rate limits waited out, as on one machine), and after each run the node keeps the images it pulled itself within
`images.max_disk_gb`, removing the least recently used one that no run on the node holds. Images that were on
the node before are never removed.

What a node pulled is listed in `/var/tmp/patchmix-node-images/<node id>.json` (size, last use, runs holding it),
shared by the node's worker processes under a file lock; a worker that dies holding an image leaves it held
(kept, never removed under a run).
"""

from __future__ import annotations

import fcntl
import json
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import docker

from harness.agent.environment.pulls import get_image_size, remove_image
from harness.pipeline.config import ImagesConfig
from harness.pipeline.imagepull import PullFailed, Puller, PullRefused

RECORDS = Path("/var/tmp/patchmix-node-images")
GB = 1e9


@contextmanager
def open_node_record(node_id: str):
    """The node's record as a dict {image: {size, used}}, locked against the node's other processes; saved on exit."""
    RECORDS.mkdir(parents=True, exist_ok=True)
    path = RECORDS / f"{node_id}.json"
    with open(RECORDS / f"{node_id}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.is_file() else {}
        before = json.dumps(data, sort_keys=True)
        yield data
        if json.dumps(data, sort_keys=True) != before:
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(data))
            temporary.replace(path)


def ensure_image(name: str, config: ImagesConfig, node_id: str) -> str | None:
    """Hold `name` on this node for a run, pulling it first when absent (after making room within the budget);
    None once it is here, else why it cannot be had. Each successful call is paired with `release_image`."""
    client = docker.from_env(timeout=600)
    if get_image_size(client, name) is None:
        if not config.pull:
            return f"{name} is not present on this node and pulling is off (images.pull)"
        trim_images(config, node_id, room_for_one=True)
        try:
            size = Puller(config, threading.Event()).pull(name)
        except (PullRefused, PullFailed) as error:
            return f"image {name} could not be pulled: {error}"
        with open_node_record(node_id) as record:
            record[name] = {"size": size, "used": time.time(), "runs": 0}
    with open_node_record(node_id) as record:
        if name in record:
            record[name].update(used=time.time(), runs=record[name].get("runs", 0) + 1)
    return None


def release_image(name: str, config: ImagesConfig, node_id: str) -> None:
    """A run of `name` on this node ended: the node's images are trimmed to the budget."""
    with open_node_record(node_id) as record:
        if name in record:
            record[name].update(used=time.time(), runs=max(0, record[name].get("runs", 0) - 1))
    trim_images(config, node_id)


def trim_images(config: ImagesConfig, node_id: str, room_for_one: bool = False) -> list[str]:
    """Remove this node's pulled images that no run holds, least recently used first, while they exceed
    `max_disk_gb` (with `room_for_one`: while one more image of the largest size would not fit)."""
    if not config.max_disk_gb:
        return []
    client, removed = docker.from_env(timeout=600), []
    with open_node_record(node_id) as record:
        extra = max([entry["size"] for entry in record.values()] + [0]) if room_for_one else 0
        for name in sorted(record, key=lambda image: record[image]["used"]):
            if sum(entry["size"] for entry in record.values()) + extra <= config.max_disk_gb * GB:
                break
            if record[name].get("runs", 0) <= 0 and (remove_image(client, name) or get_image_size(client, name) is None):
                del record[name]
                removed.append(name)
    return removed


def list_node_images(node_id: str) -> dict[str, dict]:
    with open_node_record(node_id) as record:
        return dict(record)
