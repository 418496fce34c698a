"""The exit vocabulary of an agent run and the exceptions that drive the agent loop.

Control flow in `agent.run()` is carried by these exceptions: each carries the messages to append to the
conversation, and the terminating ones carry the exit status the run ends with.
"""

import errno

SUBMITTED = "submitted"
STEP_LIMIT = "step_limit"
COST_LIMIT = "cost_limit"
TIMEOUT_LIMIT = "timeout_limit"
FORMAT_LIMIT = "format_limit"
CONTEXT_LIMIT = "context_limit"
TIME_LIMIT = "time_limit"
STUCK_LIMIT = "stuck_limit"
INFRA_ERROR = "infra_error"
INTERRUPTED = "interrupted"
PROVIDER_ERROR = "provider_error"
"""The provider refused this run's request for a reason of its own (a 4xx other than overflow and access, a
content filter, a malformed reply, the same HTTP 500 twice in a row): the run ends, its patch salvaged; a rerun
does not redo it unless the model's `api_base` changed."""
MODEL_TIMEOUT = "model_timeout"
"""Requests of this run timed out again and again (`timeout_tries` in a row): the server is slower than
`request_timeout` for this conversation. Final; a rerun redoes it only once `request_timeout` or `api_base`
changed."""
ENV_BROKEN = "env_broken"
"""The agent's own commands broke its environment: its container stopped during a command (PID 1 killed), its
repository's .git is gone, or the container's tools read the snapshot back otherwise. Final, with no patch: a rerun
would be a free reroll."""
DISK_LIMIT = "disk_limit"
"""The container's writable layer outgrew `container.disk_limit`: the container was removed so that one run
cannot fill the host's disk. Final, with no patch."""
HARNESS_ERROR = "harness_error"
"""A bug in the harness ended this run (traceback in its trajectory); other runs go on."""
MODEL_UNAVAILABLE = "model_unavailable"
"""The provider refused the key or does not know the model (401/403/404): no new run of that model starts;
fix the key or the name and rerun to redo these runs."""
IMAGE_UNAVAILABLE = "image_unavailable"
"""Not an agent run: the instance's image does not exist, was refused (404, unauthorized) or could not be pulled
past its retries; the other instances go on, and a rerun tries the image again."""
# Not an agent run: the pipeline carried an agreed patch forward instead of running (skip_if_agreed).
SKIPPED_AGREED = "skipped_agreed"
# Not an agent run: a routed iteration did not send this instance to this model (`route`).
SKIPPED_ROUTED = "skipped_routed"

EXIT_STATUSES = (
    SUBMITTED, STEP_LIMIT, COST_LIMIT, TIMEOUT_LIMIT, FORMAT_LIMIT, CONTEXT_LIMIT, TIME_LIMIT, STUCK_LIMIT,
    INFRA_ERROR, INTERRUPTED, SKIPPED_AGREED, SKIPPED_ROUTED, PROVIDER_ERROR, HARNESS_ERROR, MODEL_UNAVAILABLE,
    MODEL_TIMEOUT, ENV_BROKEN, DISK_LIMIT, IMAGE_UNAVAILABLE,
)
# Runs that ended for reasons outside the agent's control: a rerun redoes them.
RETRYABLE_STATUSES = (INFRA_ERROR, INTERRUPTED, MODEL_UNAVAILABLE, IMAGE_UNAVAILABLE)
# Final runs that a rerun redoes when these settings of their model changed since (the server's side of it).
REDONE_WHEN_CHANGED = {MODEL_TIMEOUT: ("request_timeout", "api_base"), PROVIDER_ERROR: ("api_base",)}


STORAGE_ERRNOS = (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES, errno.EPERM)
"""A write that failed for one of these stops the whole pipeline (one line), not just a run."""


def is_storage_error(error: BaseException) -> bool:
    """A full, read-only or forbidden disk: every later write would fail too."""
    if not isinstance(error, OSError) or error.errno not in STORAGE_ERRNOS:
        return False
    return error.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT) or error.filename is not None


def describe_storage_error(error: OSError) -> str:
    where = f" {error.filename}" if error.filename else " the run folder"
    return (f"cannot write{where}: {error.strerror or error}; free space or make the folder writable, then rerun "
            "the same command to resume (what was written before is kept)")


class PatchmixError(Exception):
    """An error for the user: its message says what went wrong and what to do next."""


class ConfigError(PatchmixError):
    """Bad configuration or input, found before any work starts."""


class ToolError(Exception):
    """A tool call failed; the message is shown to the model, which can act on it."""


class InfraError(Exception):
    """The provider or the container failed in a way that is not the agent's doing."""


class EnvironmentEnded(InfraError):
    """The container is gone because of what the agent did in it (`ENV_BROKEN`, `DISK_LIMIT`): the run ends
    with that final status, never redone."""

    def __init__(self, exit_status: str, detail: str):
        super().__init__(detail)
        self.exit_status = exit_status


class ContextOverflow(Exception):
    """The conversation no longer fits the model's context window: the run's own end, not the provider's."""


class InterruptAgentFlow(Exception):
    """Carries messages to append to the conversation; subclasses end the run or not."""

    def __init__(self, *messages: dict):
        super().__init__(*messages)
        self.messages = list(messages)


class FormatError(InterruptAgentFlow):
    """The model's reply could not be acted on; the messages tell it why. Counts toward `format_limit`."""


class RunEnded(InterruptAgentFlow):
    """Terminates the run with `exit_status`."""

    def __init__(self, exit_status: str, detail: str = "", *messages: dict):
        super().__init__(*messages)
        self.exit_status = exit_status
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.exit_status}: {self.detail}" if self.detail else self.exit_status
