"""Configuration of one agent run as data: one pydantic model per component, each field documented.

Unknown keys are refused (`extra="forbid"`), so a typo in a YAML file fails at start with the key's name.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from harness.agent.environment.sizes import parse_size
from harness.languages import is_python_row
from harness.secrets import find_url_secrets, watch_value, watch_variable


class Strict(BaseModel):
    """The base of every config model: unknown keys refused; each field's docstring (the string under it) is its
    description, from which `scripts/write_config_reference.py` writes docs/reference/config.md."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ModelConfig(Strict):
    """One model, as litellm knows it."""

    name: str
    """The litellm model name, e.g. `fireworks_ai/accounts/fireworks/models/kimi-k2-instruct-0905`."""
    label: str = ""
    """A short name used in folders, reports and prompts (defaults to the last part of `name`)."""
    temperature: float | None = 0.0
    """Not sent when `extra` sets `thinking` (Anthropic's extended thinking accepts only its default, 1)."""
    max_tokens: int | None = None
    """Cap on the tokens of one reply."""
    api_base: str | None = None
    """The URL of the model's server, e.g. `http://127.0.0.1:8000/v1` for a local OpenAI-compatible one (None:
    the provider's own); a token in it is masked in every file patchmix writes."""
    api_key_env: str | None = None
    """Name of the environment variable that holds the key; the key itself never goes in a config file."""
    extra: dict = Field(default_factory=dict)
    """More keyword arguments for `litellm.completion`, e.g. `{top_p: 0.9}` or `{reasoning_effort: low}`."""
    input_cost_per_token: float | None = None
    """Price in dollars; set both prices when litellm's table does not know the model."""
    output_cost_per_token: float | None = None
    """Dollars per output token (reasoning tokens included); with `input_cost_per_token`, needed when litellm's
    table does not know the model."""
    cache_read_input_token_cost: float | None = None
    """Dollars per prompt token read from the provider's cache (default: litellm's table, else the input price)."""
    cache_creation_input_token_cost: float | None = None
    """Dollars per prompt token written to the provider's cache (default: litellm's table, else the input price)."""
    prompt_caching: bool | None = None
    """Ask the provider to cache the prompt prefix where it caches only when asked (Anthropic's `cache_control`
    breakpoints on the system prompt and the latest two messages). None: on for Claude models, which need it;
    providers that cache on their own (OpenAI, DeepSeek, Fireworks, Gemini) need nothing sent."""
    request_timeout: float = 600.0
    """Seconds one request may take before it counts as a transient failure and is retried."""
    timeout_tries: int = Field(2, ge=1)
    """Consecutive timed-out attempts of one request after which the run ends `model_timeout` (a request that
    is always slower than `request_timeout` is not a passing fault: raise it, or lower `max_tokens`)."""
    tool_choice: str | dict | None = "auto"
    """Sent with the tools on every request (`auto`: the model decides). llama.cpp's server leaves the tools out
    of the prompt unless a `tool_choice` is sent; None sends none (for a server that refuses the parameter)."""
    retries: int = 6
    """Attempts for a transient provider error (429, 5xx, timeout, dropped connection) before `infra_error`;
    sooner, the same HTTP 500 twice in a row ends `provider_error` and `timeout_tries` timeouts `model_timeout`."""
    retry_wait: float = 2.0
    """First wait between attempts, in seconds; doubles each time."""
    retry_max_wait: float = 60.0
    """Longest wait between attempts, in seconds; a `Retry-After` of a 5xx is waited at most this long."""
    rate_limit_patience: float = 600.0
    """Seconds a run waits out a sustained rate limit (429s, each honouring its `Retry-After`; meanwhile no new
    call to the provider starts) before it ends `infra_error`, to be redone on resume."""
    context_window: int | None = Field(None, gt=0)
    """Prompt tokens the model accepts; default: litellm's table (`max_input_tokens`), else unknown (then the run
    compacts only when the provider answers that the prompt no longer fits)."""
    compaction: bool | float = True
    """Context compaction (`harness/agent/compaction.py`): when the prompt reaches this share of the context window
    the older steps are replaced by a summary the model writes. True: at 0.8 of the window; a number in (0, 1]:
    at that share; false: off (a prompt that no longer fits ends the run `context_limit`)."""
    @field_validator("compaction")
    @classmethod
    def check_compaction(cls, value):
        if not isinstance(value, bool) and not 0 < value <= 1:
            raise ValueError(f"compaction must be true, false or a share of the context window in (0, 1], "
                             f"e.g. 0.8; got {value}")
        return value

    send_reasoning: bool = True
    """Send the model's reasoning (`reasoning_content`, Anthropic thinking blocks) back with its earlier replies,
    as reasoning models with tool calls require; false drops it from requests (it is kept in the trajectory).
    Anthropic refuses false while `extra` turns `thinking` on: a tool turn must start with its thinking block."""
    text_in_reasoning: bool = False
    """Send the text of an earlier reply that has both reasoning and tool calls at the end of its reasoning, with
    an empty `content`. For gpt-oss behind llama.cpp: its harmony template takes the analysis or the text of a
    tool-call turn, not both, and the server keeps the reasoning and drops the text."""

    def model_post_init(self, _context) -> None:
        if not self.label:
            self.label = self.name.rstrip("/").split("/")[-1]
        if self.api_key_env:
            watch_variable(self.api_key_env)  # its value is masked in every file, whatever the variable's name
        for token in find_url_secrets(self.api_base or ""):
            watch_value(token, f"the api_base of model {self.label}")


class LimitsConfig(Strict):
    """Circuit breakers of one agent run. 0 switches a breaker off."""

    step_limit: int = 100
    """Model queries per run."""
    cost_limit: float = 3.0
    """Dollars per run."""
    timeout_limit: int = 3
    """Consecutive `bash` calls that hit the command timeout."""
    format_limit: int = 3
    """Consecutive replies that could not be acted on (no tool call, unknown tool, bad arguments)."""
    wall_time_limit: float = 3600.0
    """Seconds from container start to the end of the run."""
    stuck_limit: int = Field(0, ge=0)
    """Repetitions after which a run that repeats itself ends (`harness/agent/stuck.py`): the same call with the
    same output N times in a row, two calls alternating N times each, or N identical errors in a row. The model
    is warned once, one repetition before (from 3 on)."""


class ContainerConfig(Strict):
    """The container of one agent run and the `bash` tool inside it."""

    workdir: str = "/testbed"
    """Where the repository is in the image: the shell starts there and the patch is taken there (a row's own
    `workdir`, e.g. SWE-bench Pro's `/app`, replaces it)."""
    mem_limit: str = "4g"
    """Memory the container may use (docker's notation, e.g. `8g`)."""
    pids_limit: int = 1024
    """Processes the container may hold at once."""
    command_timeout: float = 120.0
    """Seconds one `bash` call may run before it is killed."""
    max_output_chars: int = 10_000
    """Characters of one tool output shown to the model; the rest is cut with a notice."""
    start_timeout: float = 60.0
    """Seconds the container's shell may take to answer at start (and after the restart that precedes the
    patch's collection)."""
    network: bool = False
    """Give the container a network. Off by default: with it, a model can fetch the upstream fix."""
    cpus: float = 2.0
    """CPUs the container may use (docker's --cpus); 0: no limit."""
    disk_limit: str | None = "10g"
    """What the container's writable layer may hold (docker's size notation); measured every
    `disk_check_seconds`, and over it the container is removed and the run ends `disk_limit`, so that one run
    cannot fill the host's disk. Each file the agent's shell writes is also capped at it (`ulimit -f`). None: off."""
    disk_check_seconds: float = 5.0
    """Seconds between two measurements of the writable layer against `disk_limit`."""

    @field_validator("disk_limit")
    @classmethod
    def check_disk_limit(cls, value: str | None) -> str | None:
        if value is not None:
            parse_size(value)  # a ValueError names the value and how to write it
        return value
    check_python: bool = True
    """At start, check that the shell's `python` has the dependencies the repository declares; a mismatch ends
    the run as `infra_error` with a message that says so (`harness/agent/environment/prepare.py`). Python repositories only:
    a row in another language is never checked (`harness/languages.py`)."""
    keep_test_infrastructure: bool = False
    """Keep in the patch the files that change how tests run or are collected (conftest.py, pytest.ini, test
    sections of tox.ini/setup.cfg/pyproject.toml, sitecustomize.py, *.pth, files under test directories);
    by default they are dropped with reason `test_infrastructure`."""


class AgentConfig(Strict):
    """Everything one agent run needs besides the dataset row."""

    model: ModelConfig
    """The model that works the instance."""
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    """The run's circuit breakers."""
    container: ContainerConfig = Field(default_factory=ContainerConfig)
    """The run's container and its `bash` tool."""
    prompts_dir: str | None = None
    """A folder of your own templates, searched before the shipped `prompts/`."""
    system_template: str = "system.j2"
    """The template of the system prompt (in `prompts_dir` or the shipped `prompts/`)."""
    instance_template: str = "instance.j2"
    """The template of the first user message: the issue, and in later iterations the earlier patches."""
    summary_template: str | None = None
    """A template in `prompts/` (e.g. `summary.j2`): after `submit` or a breaker the model writes a short summary
    of its attempt with it, one more call counted in the run's cost (None: no summary)."""
    compaction_template: str = "compaction.j2"
    """The instruction that asks the model for the summary that replaces older steps (see `model.compaction`)."""
    keep_observations: int = 0
    """Send the model the full output of at least the last N tool calls, older ones as a one-line note, rewritten
    N at a time so that the prompt's prefix stays cacheable between rewrites (0: all).
    Long runs on models with a smaller context window end in `context_limit` less often with it set."""


def get_container_config(row: dict, config: ContainerConfig) -> ContainerConfig:
    """The container settings for this row: the row's `workdir` (SWE-bench Pro's repositories are at /app) in
    place of `workdir`, and the start-up check of the agent's python (`harness.agent.environment.prepare`) off for a row in
    another language (decided from the row alone, `harness.languages.is_python_row`), whatever python its image
    has: it only means something for a Python repository."""
    changes = {}
    if row.get("workdir") and row["workdir"] != config.workdir:
        changes["workdir"] = row["workdir"]
    if config.check_python and not is_python_row(row):
        changes["check_python"] = False
    return config.model_copy(update=changes) if changes else config


def fit_config_to_row(config: AgentConfig, row: dict) -> AgentConfig:
    """`config` with the container settings of `get_container_config` for this row (itself when none change)."""
    container = get_container_config(row, config.container)
    return config if container is config.container else config.model_copy(update={"container": container})
