"""What a verdict depends on besides the patch: the instance's dataset row, its image, where it was scored.

A verdict is reused (`harness.scoring.cache`) and a predictions file is left unscored
(`harness.scoring.filescoring`) only while this key is unchanged, so an edited row (its eval script,
FAIL_TO_PASS, PASS_TO_PASS, log parser, ...), a rebuilt image (another image id under the same name) or a switch
between isolated and official containers is scored again instead of returning the old verdict. An image that is
not on this machine (removed since, or on a cluster's nodes) cannot be compared: its verdicts stand on the row
alone.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import docker
import requests

from harness.pipeline.dataset import load_rows

SCORED_FIELDS = ("instance_id", "image", "eval_script", "repo", "version", "FAIL_TO_PASS", "PASS_TO_PASS",
                 "log_parser", "eval_type", "image_assets")
"""The columns swebench's `make_test_spec` reads: everything of a row that scoring and grading depend on."""
PRO_SCORED_FIELDS = ("base_commit", "before_repo_set_cmd", "selected_test_files_to_run")
"""What Pro's steps (`harness.scoring.pro`) also read of a Pro row (its run scripts are not in the key)."""
JSON_FIELDS = ("FAIL_TO_PASS", "PASS_TO_PASS", "image_assets")
"""Columns a dataset may hold as JSON text or as lists: the same content gives the same key."""


@dataclass(frozen=True)
class ScoringKey:
    row: str
    """sha256 of the row's scored fields and of the kind of scoring containers."""
    image_id: str | None
    """The id of the row's image on this machine; None when it is not here."""


def make_row_key(row: dict | None, containers: str) -> str:
    """sha256 of the row's scored fields and the kind of scoring containers."""
    names = SCORED_FIELDS + (PRO_SCORED_FIELDS if row and row.get("eval_type") == "pro" else ())
    fields = {name: read_field(row, name) for name in names} if row else None
    content = {"row": fields, "containers": containers}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def is_same_image(recorded: str | None, current: str | None) -> bool:
    """Whether a verdict obtained with image `recorded` stands for the image here now (unknown ids compare equal)."""
    return recorded is None or current is None or recorded == current


def read_field(row: dict, name: str):
    value = row.get(name)
    if name in JSON_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def get_scoring_keys(dataset: str, split: str, containers: str, client=None) -> dict[str, ScoringKey]:
    """instance_id -> scoring key of every row of the dataset."""
    rows = load_rows(dataset, split)
    image_ids = get_image_ids(client)
    return {row["instance_id"]: ScoringKey(make_row_key(row, containers), image_ids.get(row.get("image")))
            for row in rows}


def get_image_ids(client=None) -> dict[str, str]:
    """Tag -> image id of the images on this machine, from one listing call (no inspection of each image, which
    one removed meanwhile would fail); none when the engine does not answer (a verdict then stands on its row,
    as when scored on a cluster's nodes)."""
    try:
        client = client or docker.from_env()
        return {tag: image["Id"] for image in client.api.images() for tag in image.get("RepoTags") or []}
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return {}


def combine_keys(keys: dict[str, ScoringKey], instance_ids: list[str]) -> str:
    """One key for a predictions file: the row keys of its instances."""
    content = json.dumps({i: keys[i].row if i in keys else None for i in sorted(instance_ids)}, sort_keys=True)
    return hashlib.sha256(content.encode()).hexdigest()


def list_image_ids(keys: dict[str, ScoringKey], instance_ids: list[str]) -> dict[str, str | None]:
    return {i: keys[i].image_id if i in keys else None for i in sorted(instance_ids)}
