"""How long a registry asks us to wait: after the engine reports `toomanyrequests`, one HEAD request for the
image's manifest (which Docker Hub does not count as a pull) reads `Retry-After` and Docker Hub's
`ratelimit-limit` / `ratelimit-remaining` headers (`100;w=21600`: 100 pulls per 21600 s window).

The request is anonymous (the engine's login is its own), over http for a registry on this machine's loopback
and https elsewhere; a registry that answers 401 with a Bearer challenge gets an anonymous token first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

import requests
from docker.utils import parse_repository_tag

DOCKER_HUB = "registry-1.docker.io"
PROBE_TIMEOUT = 10.0
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json,"
                  "application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v2+json")


@dataclass
class RateLimit:
    retry_after: float | None = None
    """Seconds the registry asked us to wait (Retry-After), if it said."""
    limit: int | None = None
    remaining: int | None = None
    window: int | None = None
    """Seconds of the window the limit counts over (Docker Hub's `w=`)."""

    def describe(self) -> str:
        if self.limit is None:
            return "the registry did not say its limit"
        window = f" per {self.window} s" if self.window else ""
        return f"limit {self.limit} pulls{window}, {self.remaining if self.remaining is not None else '?'} left"


def split_image(name: str) -> tuple[str, str, str]:
    """(registry host, repository, tag or digest) of an image name, Docker Hub's defaults filled in."""
    repository, tag = parse_repository_tag(name)
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first, rest, tag or "latest"
    return DOCKER_HUB, repository if rest else f"library/{repository}", tag or "latest"


def get_scheme(registry: str) -> str:
    host = registry.rsplit(":", 1)[0]
    return "http" if host == "localhost" or host.startswith("127.") else "https"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def parse_quota(value: str | None) -> tuple[int | None, int | None]:
    """(count, window seconds) of a `ratelimit-*` header such as `100;w=21600`."""
    match = re.match(r"\s*(\d+)(?:\s*;\s*w=(\d+))?", value or "")
    if not match:
        return None, None
    return int(match.group(1)), int(match.group(2)) if match.group(2) else None


def read_rate_limit(headers) -> RateLimit:
    limit, window = parse_quota(headers.get("ratelimit-limit"))
    remaining, _ = parse_quota(headers.get("ratelimit-remaining"))
    return RateLimit(parse_retry_after(headers.get("retry-after")), limit, remaining, window)


def get_token(challenge: str, session: requests.Session) -> str | None:
    """An anonymous token for a `Bearer realm=...,service=...,scope=...` challenge."""
    fields = dict(re.findall(r'(\w+)="([^"]*)"', challenge or ""))
    if not challenge.lower().startswith("bearer") or "realm" not in fields:
        return None
    params = {key: value for key, value in fields.items() if key in ("service", "scope")}
    answer = session.get(fields["realm"], params=params, timeout=PROBE_TIMEOUT)
    answer.raise_for_status()
    body = answer.json()
    return body.get("token") or body.get("access_token")


def probe_rate_limit(name: str) -> RateLimit:
    """The registry's rate-limit answer for `name`'s manifest; an empty RateLimit when it cannot be read."""
    registry, repository, tag = split_image(name)
    url = f"{get_scheme(registry)}://{registry}/v2/{repository}/manifests/{tag}"
    headers = {"Accept": MANIFEST_TYPES}
    try:
        with requests.Session() as session:
            answer = session.head(url, headers=headers, timeout=PROBE_TIMEOUT)
            token = get_token(answer.headers.get("www-authenticate", ""), session) if answer.status_code == 401 else None
            if token:
                answer = session.head(url, headers={**headers, "Authorization": f"Bearer {token}"},
                                      timeout=PROBE_TIMEOUT)
    except (requests.exceptions.RequestException, ValueError):
        return RateLimit()
    return read_rate_limit(answer.headers)
