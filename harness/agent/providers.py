"""What a provider's error means for a run, how long to wait before the next try, and provider pauses.

litellm's mapped errors derive from `openai.*` (not from `litellm.exceptions.OpenAIError`), and it maps only
some wordings and status codes to specific classes: a Fireworks context overflow arrives as a plain
`BadRequestError`, a 529 or a 403 as a bare `APIError`. So an error is classified by its type, its HTTP status
and its message together, into one of:

- `OVERFLOW`: the conversation no longer fits the context window, in any major provider's wording;
- `TRANSIENT`: 408, 409, 425, 429, 5xx (520-529 included), timeouts, dropped connections, unparsable bodies;
- `UNAVAILABLE`: 401, 403, 404: the key is refused or the model is unknown, for every run of the model;
- `REFUSED`: any other answer of the provider (other 4xx, a content filter): the run's own error;
- None: not a provider's answer at all, i.e. a bug in the harness.
"""

from __future__ import annotations

import email.utils
import re
import threading
import time
import traceback

import httpx
import litellm
import openai

OVERFLOW, TRANSIENT, UNAVAILABLE, REFUSED = "overflow", "transient", "unavailable", "refused"

OVERFLOW_WORDINGS = re.compile("|".join((
    r"context[_ ]length[_ ]exceeded",                       # OpenAI's error code
    r"maximum context length",                              # OpenAI, DeepSeek, vLLM, OpenRouter, Fireworks
    r"prompt is too long",                                  # Anthropic, Fireworks
    r"input is too long",                                   # Bedrock
    r"tokens \+ `max_new_tokens` must be <=",               # Together, TGI
    r"longer than the maximum model length",                # vLLM v1
    r"exceeds? the (available )?context (size|length|window)",  # Ollama, llama.cpp
    r"context window (is |was )?exceeded",
    r"exceeds the maximum number of tokens allowed",        # Gemini
    r"too large for model with \d+ maximum context length",  # Mistral
    r"reduce the length of the (input )?messages",          # Groq, OpenAI
)), re.IGNORECASE)

TRANSIENT_STATUSES = {408, 409, 425, 429}
UNAVAILABLE_STATUSES = {401, 403, 404}
CONNECTION_ERRORS = (litellm.Timeout, litellm.APIConnectionError, openai.APITimeoutError,
                     openai.APIConnectionError, httpx.TransportError, ConnectionError, TimeoutError)


class NoResponse(Exception):
    """litellm returned nothing: with `drop_params` it answers a 422 by dropping the parameters the body names
    and sending the request again, and when the second try fails too it returns None instead of raising."""

    status_code = 422


class MalformedReply(Exception):
    """A 200 answer the harness cannot use (no choices, no message): retried like a transient error."""


def get_status(error: Exception) -> int | None:
    status = getattr(error, "status_code", None)
    if not isinstance(status, int):
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def classify_error(error: Exception) -> str | None:
    """The outcome of one failed call (see the module docstring), or None for an error of the harness."""
    status = get_status(error)
    if isinstance(error, litellm.ContextWindowExceededError) or (
            status != 429 and OVERFLOW_WORDINGS.search(str(error))):
        return OVERFLOW
    if isinstance(error, CONNECTION_ERRORS + (MalformedReply,)):
        return TRANSIENT
    if status in TRANSIENT_STATUSES or (status is not None and status >= 500):
        return TRANSIENT
    if status in UNAVAILABLE_STATUSES or isinstance(error, (openai.AuthenticationError, openai.NotFoundError,
                                                             openai.PermissionDeniedError)):
        return UNAVAILABLE
    if isinstance(error, openai.APIError) or status is not None:
        return REFUSED
    return None


def get_retry_after(error: Exception) -> float | None:
    """Seconds the provider asked us to wait (`Retry-After` in seconds or as a date, or `retry-after-ms`)."""
    headers = {}
    for source in (getattr(error, "litellm_response_headers", None), getattr(error, "headers", None),
                   getattr(getattr(error, "response", None), "headers", None)):
        if source:
            headers.update({str(k).lower(): v for k, v in dict(source).items()})
    if headers.get("retry-after-ms"):
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def get_backoff(failures: int, first: float, most: float) -> float:
    """Exponential backoff: `first`, doubling after each failure, at most `most` seconds."""
    return min(most, first * 2 ** max(0, failures - 1))


def summarize_error(error: Exception) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


def describe_refusal(error: Exception) -> str:
    """The provider's answer and where it was raised: the run's `exit_detail`, traceback included."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__, limit=-6))
    return f"the provider refused the request (HTTP {get_status(error)}): {summarize_error(error)}\n{trace}"


class ProviderPauses:
    """Per provider, the moment until which no new call may start (a rate limit asked us to wait).

    Shared by every run of this process, so that one run's 429 holds back the others' calls to that provider.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.until: dict[str, float] = {}

    def pause(self, provider: str, seconds: float) -> None:
        with self.lock:
            self.until[provider] = max(self.until.get(provider, 0.0), time.monotonic() + seconds)

    def get_remaining(self, provider: str) -> float:
        with self.lock:
            return max(0.0, self.until.get(provider, 0.0) - time.monotonic())


PAUSES = ProviderPauses()
