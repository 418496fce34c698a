"""What a failed call leads to: the run's end (`raise_final`: a context overflow, a malformed call, a refused key
or unknown model, any other refusal; `check_repeated`: the same HTTP 500 twice, timeouts in a row), or the wait
before the next try (`get_wait`: backoff that honours `Retry-After`, a 429 pausing the provider for every run of
this process up to `rate_limit_patience`), and the trajectory's record of each failed attempt."""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness import exceptions as ex
from harness.agent.config import ModelConfig
from harness.agent.model.providers import (MALFORMED_CALL, OVERFLOW, PAUSES, REFUSED, UNAVAILABLE, MalformedReply,
                                           classify_error, describe_refusal, get_backoff, get_http_status,
                                           get_retry_after, get_status, is_timeout, summarize_error)
from harness.exceptions import ContextOverflow, FormatError, InfraError, RunEnded

MISSING_FUNCTION = ("Your last reply had a tool call without its function (no tool name, no arguments), so nothing "
                    "was run. Call one of the tools again with its name and arguments.")


@dataclass
class Attempts:
    """What one query met so far."""

    count: int = 0
    failures: int = 0
    rate_limited_since: float | None = None
    billed: float = 0.0
    """Dollars of answers that were billed but could not be used (e.g. empty `choices`, a timeout)."""
    last_answer: str | None = None
    """The status and body of the last HTTP 500, to tell a repeated answer from a passing fault."""
    timeouts: int = 0
    """Consecutive attempts that timed out."""


def raise_final(error: Exception, config: ModelConfig) -> None:
    """Raise what a failure that no retry helps means for the run (`error` itself for a harness bug); return for
    a transient one."""
    kind = classify_error(error)
    if kind is None:
        raise error
    if kind == OVERFLOW:
        raise ContextOverflow(summarize_error(error)) from None
    if kind == MALFORMED_CALL:
        raise FormatError({"role": "user", "content": MISSING_FUNCTION}) from None
    if kind == UNAVAILABLE:
        raise RunEnded(ex.MODEL_UNAVAILABLE, describe_unavailable(config, error)) from None
    if kind == REFUSED:
        raise RunEnded(ex.PROVIDER_ERROR, describe_refusal(error)) from None


def check_repeated(error: Exception, tries: Attempts, config: ModelConfig) -> None:
    """End the run when the server says the same thing again: a 500 with the same body twice in a row
    (`provider_error`), or a timeout `timeout_tries` times in a row (`model_timeout`)."""
    tries.timeouts = tries.timeouts + 1 if is_timeout(error) else 0
    if tries.timeouts >= max(1, config.timeout_tries):
        raise RunEnded(ex.MODEL_TIMEOUT, describe_timeouts(config, tries.timeouts)) from None
    answer = summarize_error(error) if get_http_status(error) == 500 else None
    if answer is not None and answer == tries.last_answer:
        raise RunEnded(ex.PROVIDER_ERROR, f"the server answered HTTP 500 with the same error twice in a row, "
                                          f"so retrying will not help: {summarize_error(error)}") from None
    tries.last_answer = answer


def get_wait(error: Exception, tries: Attempts, config: ModelConfig, provider: str) -> float:
    """Seconds before the next try of a transient failure; InfraError (or provider_error for a malformed
    reply) when the retries or the rate-limit patience are used up."""
    retry_after, now = get_retry_after(error), time.monotonic()
    if get_status(error) == 429:
        tries.rate_limited_since = tries.rate_limited_since or now
        wait = retry_after if retry_after is not None else get_backoff(
            tries.count, config.retry_wait, config.retry_max_wait)
        if now - tries.rate_limited_since + wait > config.rate_limit_patience:
            raise InfraError(f"the provider rate-limited {tries.count} calls over "
                             f"{now - tries.rate_limited_since:.0f} s, past rate_limit_patience "
                             f"({config.rate_limit_patience:g} s): {summarize_error(error)}") from None
        PAUSES.pause(provider, wait)
        return wait
    tries.failures += 1
    if tries.failures >= max(1, config.retries):
        if isinstance(error, MalformedReply):
            raise RunEnded(ex.PROVIDER_ERROR, f"the provider answered {tries.failures} times with a reply "
                                              f"the harness cannot use: {error}") from None
        raise InfraError(f"provider failed {tries.count} times in a row: {summarize_error(error)}") from None
    backoff = get_backoff(tries.failures, config.retry_wait, config.retry_max_wait)
    # a failure's Retry-After is a hint, never longer than retry_max_wait (only a 429's is waited out)
    return backoff if retry_after is None else min(retry_after, config.retry_max_wait)


def describe_timeouts(config: ModelConfig, count: int) -> str:
    tokens = f"max_tokens ({config.max_tokens})" if config.max_tokens else "max_tokens (unset)"
    return (f"model {config.label}: {count} requests in a row took longer than request_timeout "
            f"({config.request_timeout:g} s); raise request_timeout or lower {tokens} in the model's "
            "config (a local server answers one request at a time: a slower machine needs more time)")


def describe_unavailable(config: ModelConfig, error: Exception) -> str:
    key = f"the key in {config.api_key_env}" if config.api_key_env else "its key"
    return (f"model {config.label} ({config.name}): the provider refused {key} or does not know "
            f"the model (HTTP {get_status(error)}); fix the key or the model name and rerun: "
            f"{summarize_error(error)}")


def describe_attempt(attempt: int, error: Exception, began: float, cost: float) -> dict:
    """The trajectory's record of a failed attempt."""
    status = error.exit_status if isinstance(error, RunEnded) else "timeout" if is_timeout(error) else "error"
    return {"attempt": attempt, "status": status, "seconds": round(time.monotonic() - began, 3),
            "error": summarize_error(error)[:300], "cost": cost}
