"""Keeps secrets out of everything the harness writes.

A secret is the value of any environment variable whose name looks like a credential (KEY, TOKEN, SECRET,
PASSWORD, ...). Every file writer and the log handler pass their text through `redact`, so a key that reached
a model reply, an error message or a config still never lands on disk.
"""

from __future__ import annotations

import os
import re

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|AUTH)", re.IGNORECASE)
MIN_SECRET_LENGTH = 8
MASK = "***REDACTED***"


def get_secret_values() -> list[str]:
    """Values of credential-like environment variables, longest first (so a key inside another is masked whole)."""
    values = {
        value for name, value in os.environ.items()
        if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_LENGTH
    }
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    for value in get_secret_values():
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_data(data):
    """Redact every string inside nested dicts and lists."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {key: redact_data(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [redact_data(value) for value in data]
    return data
