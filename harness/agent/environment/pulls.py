"""One image pull through the Docker engine, with its progress, and what its failure means.

A failed pull is one of three outcomes, judged by the engine's wording (it passes the registry's error code on):
- `RateLimited`: the registry said `toomanyrequests` (HTTP 429): wait and pull again, nothing is lost;
- `PullRefused`: the image does not exist or the registry refuses us (404, `manifest unknown`, unauthorized,
  denied): pulling again will not help, so the instance's runs end `image_unavailable`;
- `PullFailed`: anything else (5xx, a dropped connection, a slow body cut off by a timeout): retried.
"""

from __future__ import annotations

import platform as host
import re

import docker
import requests
from docker.utils import parse_repository_tag

RATE_LIMITED = ("toomanyrequests", "too many requests", "429", "rate limit")
REFUSED = ("manifest unknown", "not found", "does not exist", "unauthorized", "denied", "name unknown",
           "no matching manifest", "invalid reference format", "401", "403", "404")
X86 = ("x86_64", "amd64", "i686", "i386")
EMULATION_SLOWDOWN = "3 to 10 times slower"


class PullError(Exception):
    """A pull that did not give the image; the message is the engine's, first line."""


class RateLimited(PullError):
    """The registry said `toomanyrequests`."""


class PullRefused(PullError):
    """The image does not exist there, or the registry refuses this client."""


class PullFailed(PullError):
    """A fault of the registry or the connection (5xx, dropped, timed out): pulling again may work."""


def classify_pull_error(message: str) -> type[PullError]:
    """Which kind of failure an engine's error message describes."""
    text = message.lower()
    if any(word in text for word in RATE_LIMITED):
        return RateLimited
    if re.search(r"\b5\d\d\b", text) or "unexpected http status" in text:
        return PullFailed
    if any(word in text for word in REFUSED):
        return PullRefused
    return PullFailed


def get_pull_platform(machine: str | None = None) -> str | None:
    """The platform to ask for on a pull: `linux/amd64` on a non-x86 host (SWE-bench images are x86), else
    None (the engine's own)."""
    machine = (machine or host.machine()).lower()
    return None if machine in X86 else "linux/amd64"


def describe_emulation(machine: str | None = None) -> str | None:
    """One line for a non-x86 host, None on x86."""
    machine = machine or host.machine()
    if get_pull_platform(machine) is None:
        return None
    return (f"patchmix: this host is {machine}; SWE-bench images are x86_64 and run under emulation, "
            f"expect runs and tests {EMULATION_SLOWDOWN} (pulls ask for linux/amd64)")


def pull_image(client, name: str, platform: str | None = None, on_progress=None) -> int:
    """Pull `name` through the engine, calling `on_progress(done_bytes, total_bytes, layers_done, layers)` as
    layers arrive; returns the image's size in bytes. Raises a `PullError` subclass."""
    repository, tag = parse_repository_tag(name)
    try:
        stream = client.api.pull(repository, tag=tag or "latest", stream=True, decode=True, platform=platform)
        follow_pull(stream, on_progress or (lambda *args: None))
        return client.images.get(name).attrs.get("Size") or 0
    except docker.errors.APIError as error:
        message = str(error.explanation or error)
        raise classify_pull_error(f"{error.status_code} {message}")(first_line(message)) from None
    except (requests.exceptions.RequestException, ConnectionError) as error:
        raise PullFailed(f"the engine's pull broke off: {first_line(str(error))}") from None


def follow_pull(stream, on_progress) -> None:
    """Read the engine's pull events to the end; an `error` event raises its kind of PullError."""
    layers: dict[str, tuple[int, int]] = {}
    finished: set[str] = set()
    for event in stream:
        if "error" in event:
            message = str(event.get("error"))
            raise classify_pull_error(message)(first_line(message))
        layer, status = event.get("id"), event.get("status", "")
        detail = event.get("progressDetail") or {}
        if layer and detail.get("total"):
            layers[layer] = (detail.get("current", 0), detail["total"])
        if layer and status in ("Pull complete", "Already exists"):
            finished.add(layer)
        if layer:
            done = sum(current for current, _ in layers.values())
            total = sum(size for _, size in layers.values())
            on_progress(done, total, len(finished), len(set(layers) | finished))


def remove_image(client, name: str) -> bool:
    """Untag (and delete when no other tag holds it) `name`; False when it was already gone or is in use."""
    try:
        client.images.remove(name, noprune=False)
        return True
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.APIError:  # a container still uses it: it goes at a later prune
        return False


def get_image_size(client, name: str) -> int | None:
    """The image's size in bytes, None when it is not present."""
    try:
        return client.images.get(name).attrs.get("Size") or 0
    except docker.errors.ImageNotFound:
        return None


def first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0][:300]
