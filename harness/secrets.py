"""Keeps secrets out of everything the harness writes.

A secret is the value of any environment variable whose name looks like a credential (KEY, TOKEN, SECRET,
PASSWORD, ...), of every variable a config names as a key's holder (`api_key_env`, whatever its name:
`watch_variable` registers it) or expands with `${NAME}` into a setting that is not a file location, and any
literal value registered with `watch_value` (a token inside a model's `api_base`: `find_url_secrets`). Every file writer and the log handler pass their text through `redact`, so a
key that reached a model reply, an error message or a config still never lands on disk.

A patch is never masked: rewriting it would submit something the model did not write. `find_secret` names
the variable whose value a text holds, so that a patch holding one is refused instead (`harness.agent.outcome`).
"""

from __future__ import annotations

import os
import re
import threading
from urllib.parse import parse_qsl, urlsplit

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)
MIN_SECRET_LENGTH = 8
MASK = "***REDACTED***"

WATCHED: set[str] = set()
"""Variables named by configs as holding a key, masked whatever their name."""
WATCHED_VALUES: dict[str, str] = {}
"""Literal secret values (a token written into a URL), with what holds them."""
WATCHED_LOCK = threading.Lock()
URL_SECRET_PARAMETER = re.compile(r"key|token|secret|passw|auth|sig|credential|code", re.IGNORECASE)


def watch_variable(name: str) -> None:
    """Mask the value of the environment variable `name` from now on (it holds a key)."""
    with WATCHED_LOCK:
        WATCHED.add(name)


def watch_value(value: str, holder: str) -> None:
    """Mask `value` from now on; `holder` says where it was found (e.g. "the api_base of model fixer")."""
    if len(value) >= MIN_SECRET_LENGTH:
        with WATCHED_LOCK:
            WATCHED_VALUES[value] = holder


def find_url_secrets(url: str) -> list[str]:
    """The credentials written into a URL: its password, and the values of query parameters named like one
    (`?api_key=...`, `&token=...`, `&sig=...`)."""
    try:
        parts = urlsplit(url)
        found = [parts.password] if parts.password else []
    except ValueError:
        return []
    found += [value for name, value in parse_qsl(parts.query) if URL_SECRET_PARAMETER.search(name) and value]
    return found


def get_secret_variables() -> dict[str, str]:
    """{variable: value} of every secret variable set now."""
    with WATCHED_LOCK:
        watched = set(WATCHED)
    return {name: value for name, value in os.environ.items()
            if (name in watched or SECRET_NAME.search(name)) and len(value) >= MIN_SECRET_LENGTH}


def get_secrets() -> list[tuple[str, str]]:
    """(what holds it, value) of every secret: the variables, then the literal values registered."""
    with WATCHED_LOCK:
        values = [(holder, value) for value, holder in WATCHED_VALUES.items()]
    return sorted(get_secret_variables().items()) + values


def get_secret_values() -> list[str]:
    """Values of the secrets, longest first (so a key inside another is masked whole)."""
    return sorted({value for _, value in get_secrets()}, key=len, reverse=True)


def find_secret(text: str) -> str | None:
    """The name of a variable (or what else holds it) whose secret value `text` holds, or None."""
    for name, value in get_secrets():
        if value in text:
            return name
    return None


def redact(text: str, values: list[str] | None = None) -> str:
    """`text` with every secret value masked (`values`: the secrets, if the caller already has them)."""
    for value in get_secret_values() if values is None else values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_data(data, values: list[str] | None = None):
    """Redact every string inside nested dicts and lists (the environment is read once for all of them)."""
    values = get_secret_values() if values is None else values
    if isinstance(data, str):
        return redact(data, values)
    if isinstance(data, dict):
        return {key: redact_data(value, values) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(value, values) for value in data]
    return data
