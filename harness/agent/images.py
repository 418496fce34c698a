"""Images checked before a pipeline starts: missing ones pulled (with retries and a pull-rate limit), and those
that still miss named in one line, instead of failing run by run."""

from __future__ import annotations

import time

import docker
import requests

from harness.exceptions import ConfigError

SHOWN = 5


def find_missing_images(names: list[str], client=None) -> list[str]:
    """The images of `names` that are not present locally, in order, each once."""
    client = client or docker.from_env()
    missing = []
    for name in dict.fromkeys(names):
        try:
            client.images.get(name)
        except docker.errors.ImageNotFound:
            missing.append(name)
    return missing


def pull_images(names: list[str], retries: int = 3, per_minute: float = 10.0, client=None,
                log=print) -> list[str]:
    """Pull each image (at most `per_minute` pulls started a minute, `retries` tries each with a doubling wait);
    returns those that could not be pulled."""
    client = client or docker.from_env()
    failed, gap, last = [], 60.0 / per_minute if per_minute > 0 else 0.0, 0.0
    for name in names:
        for attempt in range(1, retries + 1):
            time.sleep(max(0.0, last + gap - time.monotonic()))
            last = time.monotonic()
            try:
                client.images.pull(name)
                log(f"pulled {name}")
                break
            except (docker.errors.APIError, docker.errors.ImageNotFound, requests.exceptions.RequestException):
                if attempt == retries:
                    failed.append(name)
                else:
                    time.sleep(2 ** attempt)
    return failed


def check_images(names: list[str], pull: bool = True, retries: int = 3, per_minute: float = 10.0,
                 client=None) -> None:
    """ConfigError naming the images that are missing (after pulling them, when `pull`)."""
    try:
        client = client or docker.from_env()
        missing = find_missing_images(names, client)
        if missing and pull:
            missing = pull_images(missing, retries, per_minute, client)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        raise ConfigError(f"cannot reach the Docker engine to check the images ({error}); start dockerd") from None
    if missing:
        shown = ", ".join(missing[:SHOWN]) + (f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else "")
        how = "could not be pulled" if pull else "are not present (pulling is off: images.pull)"
        raise ConfigError(f"{len(missing)} of {len(set(names))} images {how}: {shown}; build or pull them "
                          "(`patchmix build-images` for the bundled tasks), or leave their instances out")
