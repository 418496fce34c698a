"""What a provider's error means for a run, how long to wait before the next try, and provider pauses.

litellm's mapped errors derive from `openai.*` (not from `litellm.exceptions.OpenAIError`), and it maps only
some wordings and status codes to specific classes: a Fireworks context overflow arrives as a plain
`BadRequestError`, a 529 or a 403 as a bare `APIError`. So an error is classified by its type, its HTTP status
and its message together, into one of:

- `OVERFLOW`: the conversation no longer fits the context window, in any major provider's wording;
- `TRANSIENT`: 408, 409, 425, 429, 5xx (520-529 included), timeouts, dropped connections, unparsable bodies;
- `UNAVAILABLE`: 401, 403, 404: the key is refused or the model is unknown, for every run of the model;
- `REFUSED`: any other answer of the provider (other 4xx, a content filter): the run's own error;
- `MALFORMED_CALL`: a 200 reply with a tool call whose `function` is null, which litellm cannot read: the
  model's own format error, told to it like any other;
- None: not a provider's answer at all, i.e. a bug in the harness.
"""

from __future__ import annotations

import datetime
import email.utils
import re
import threading
import time
import traceback

import httpx
import litellm
import openai

OVERFLOW, TRANSIENT, UNAVAILABLE, REFUSED = "overflow", "transient", "unavailable", "refused"
MALFORMED_CALL = "malformed_call"
UNREADABLE_REPLY = "Invalid response object"
"""litellm's words for a 200 reply it could not convert; with `'function': None` in the reply it quotes, the
cause is a tool call without its function."""

OVERFLOW_TABLE = (
    # (who words it so, a pattern of that wording): the one place where a context overflow is recognised
    ("OpenAI (its error code)", r"context[_ ]length[_ ]exceeded"),
    ("OpenAI, DeepSeek, vLLM, OpenRouter, Fireworks", r"maximum context length"),
    ("Anthropic, Fireworks", r"prompt is too long"),
    ("Anthropic (input plus max_tokens)", r"input length and `?max_tokens`? exceed context limit"),
    ("Bedrock, Anthropic", r"input is too long"),
    ("xAI", r"maximum prompt length is \d+"),
    ("xAI (gRPC code)", r"input_too_large"),
    ("Moonshot", r"exceeded model token limit"),
    ("Together, TGI", r"tokens \+ `max_new_tokens` must be <="),
    ("vLLM v1", r"longer than the maximum model length"),
    ("Ollama, llama.cpp", r"exceeds? the (available )?context (size|length|window)"),
    ("generic", r"context window (is |was )?exceeded"),
    ("Gemini", r"exceeds the maximum number of tokens allowed"),
    ("Mistral", r"too large for model with \d+ maximum context length"),
    ("Groq, OpenAI", r"reduce the length of the (input )?messages"),
)
"""Every provider's wording of "the conversation no longer fits"; each is tested over HTTP with a real body
(`harness/scripted/faults.py`, OVERFLOW_PRESETS)."""
OVERFLOW_WORDINGS = re.compile("|".join(pattern for _, pattern in OVERFLOW_TABLE), re.IGNORECASE)

TRANSIENT_STATUSES = {408, 409, 425, 429}
RETRY_AFTER_CAP = 3600.0
"""A `Retry-After` longer than this is read as this: a provider's number, not a plan to sleep for days."""
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


def get_http_status(error: Exception) -> int | None:
    """The status the server itself sent, read from the innermost exception of the chain (the HTTP client's):
    litellm maps some statuses (520, 529 on Anthropic's route, a dropped connection) to a 500 of its own. None
    when the innermost failure was no HTTP error answer (a dropped connection, an unparsable 200 body)."""
    inner, depth = error, 0
    while (inner.__cause__ or inner.__context__) is not None and depth < 10:
        inner, depth = inner.__cause__ or inner.__context__, depth + 1
    return inner.response.status_code if isinstance(inner, httpx.HTTPStatusError) else None


def classify_error(error: Exception) -> str | None:
    """The outcome of one failed call (see the module docstring), or None for an error of the harness."""
    status = get_status(error)
    if UNREADABLE_REPLY in str(error) and "'function': None" in str(error):
        return MALFORMED_CALL
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


TIMEOUT_ERRORS = (litellm.Timeout, openai.APITimeoutError, httpx.TimeoutException, TimeoutError)


def is_timeout(error: Exception) -> bool:
    """The request got no answer within its timeout (a server's own 408 answer, with headers, is not this)."""
    return isinstance(error, TIMEOUT_ERRORS) and not getattr(error, "litellm_response_headers", None)


def is_billable(error: Exception) -> bool:
    """A failed call the provider may still bill: it may have read the prompt (a timeout, a dropped connection,
    a 5xx). A 429, a refusal or a bad key is never billed."""
    status = get_status(error)
    return isinstance(error, CONNECTION_ERRORS) or (status is not None and status >= 500)


def get_retry_after(error: Exception) -> float | None:
    """Seconds the provider asked us to wait (`Retry-After` in seconds or as a date, or `retry-after-ms`), at
    most RETRY_AFTER_CAP; None when it asked nothing or in a form nobody can read (`Retry-After: soon`)."""
    headers = {}
    for source in (getattr(error, "litellm_response_headers", None), getattr(error, "headers", None),
                   getattr(getattr(error, "response", None), "headers", None)):
        if source:
            headers.update({str(k).lower(): v for k, v in dict(source).items()})
    seconds = parse_seconds(headers.get("retry-after-ms"), scale=1000)
    if seconds is None:
        seconds = parse_seconds(headers.get("retry-after"))
    return None if seconds is None else min(seconds, RETRY_AFTER_CAP)


def parse_seconds(value, scale: float = 1.0) -> float | None:
    """A header's wait: a number (divided by `scale`) or an HTTP date; None for anything else."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    try:
        seconds = float(text) / scale
    except ValueError:
        seconds = parse_date_seconds(text)
    if seconds is None or seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def parse_date_seconds(text: str) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:
        return None
    if moment.tzinfo is None:  # `-0000`: UTC, of unknown origin
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp() - time.time()


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
