"""Configuration of a pipeline as data: dataset, instance selection, defaults, models, iterations.

Unknown keys are refused (`extra="forbid"`), so a typo in a YAML file fails at start with the key's name.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from harness.agent.config import AgentConfig, ContainerConfig, LimitsConfig, ModelConfig, Strict


class DatasetConfig(Strict):
    """The rows to run: a benchmark's name, a file or a Hugging Face id (`dataset: verified` is short for
    `dataset: {path: verified}`)."""

    path: str
    """A benchmark's name (`verified`, `lite`, `full`, `multilingual`, `pro`: `patchmix datasets` lists them), a
    local .json/.jsonl(.gz)/.parquet file (relative to the config file's folder), or a Hugging Face id."""
    split: str = "test"
    """The split read from a Hugging Face dataset (a benchmark's name or a hub id); a local file has none."""
    pro_scripts_dir: str | None = None
    """SWE-bench Pro rows: the `run_scripts` folder of a SWE-bench_Pro-os checkout (one `<instance_id>/` with
    run_script.sh and parser.py each), relative to the config file's folder; scoring reads it."""

    @model_validator(mode="before")
    @classmethod
    def read_shorthand(cls, value):
        """`dataset: verified` stands for `dataset: {path: verified}`."""
        return {"path": value} if isinstance(value, str) else value


class SelectionConfig(Strict):
    """Which instances of the dataset to run; applied in this order: ids, filter, shuffle, slice."""

    ids: list[str] | None = None
    """Only these instance ids (an id that is not in the dataset stops the run at start, named)."""
    filter: str | None = None
    """A regular expression matched against instance_id."""
    shuffle_seed: int | None = None
    """Shuffle the rows with this seed (the same rows and seed give the same order on every machine); None: the
    dataset's order."""
    slice: str | None = None
    """Python-style, e.g. `:10` or `5:20:2`."""


class DefaultsConfig(Strict):
    """Settings shared by the agent runs of every iteration."""

    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    """Circuit breakers of every run (an iteration's own `limits` replaces them for its runs)."""
    container: ContainerConfig = Field(default_factory=ContainerConfig)
    """The container of every run (and of the isolated scoring containers, which take its limits)."""
    keep_observations: int = 0
    """Every run sends the model the full output of at least the last N tool calls, older ones as a one-line note,
    rewritten N at a time so that the prompt's prefix stays cacheable (0: all)."""
    compaction_template: str = "compaction.j2"
    """The instruction that asks a model for the summary that replaces older steps (whether and when a model
    compacts is its own `compaction`)."""


class SkipIfAgreedConfig(Strict):
    """An instance whose drawn-on patches make the same change (by `harness.diffs.get_change_key`) in the runs of
    at least `min_models` different models is not run again in this iteration: the agreed patch carries forward,
    labelled `agreed:<models>`, with exit status `skipped_agreed`."""

    min_models: int = Field(2, ge=1)
    """How many different models must have made the same change for the instance to be skipped."""


class RouteConfig(Strict):
    """Run each instance only on the models a routing file names for it (written by `patchmix route apply`)."""

    file: str
    """The routing file (JSON, format patchmix-routing/1), relative to the config file's folder."""
    top: int | None = Field(None, ge=1)
    """Keep the first `top` routed models of each instance (best first); None: every model the file names."""
    samples: dict[str, list[str]] = Field(default_factory=dict)
    """More samples of a routed model: {routed label: [labels that run too when it is routed]}, e.g. the same
    model at temperature 1 under other labels (seed 003's repeated sampling)."""


class IterationConfig(Strict):
    """One pass over the instances: which models work them, with which prompts and what of earlier iterations."""

    models: list[str]
    """Labels of the models (keys of `models`) that each work every instance in this iteration."""
    system_template: str = "system.j2"
    """The template of the system prompt (in `prompts_dir` or the shipped `prompts/`)."""
    instance_template: str = "instance.j2"
    """The template of the first user message, e.g. `instance_with_patches.j2` to show the drawn-on patches or
    `instance_refine.j2` to refine one."""
    draws_on: list[int] = Field(default_factory=list)
    """Earlier iterations (1-based) whose patches go into this iteration's prompt."""
    limits: LimitsConfig | None = None
    """Breakers for this iteration's runs, instead of the defaults."""
    summary_template: str | None = None
    """Each run ends by writing a summary of its attempt with this template (e.g. `summary.j2`), so that later
    iterations can show it; one more model call per run, counted in its cost (None: no summary)."""
    show_earlier: Literal["patches", "summaries", "both"] = "patches"
    """What the prompt shows of the drawn-on runs (the template variable `show_earlier`): their patches, their
    summaries instead, or both."""
    skip_if_agreed: SkipIfAgreedConfig | None = None
    """Skip an instance whose drawn-on patches agree (see SkipIfAgreedConfig); its agreed patch carries forward."""
    route: RouteConfig | None = None
    """Run each instance only on its routed models; the others get a `skipped_routed` record (see RouteConfig)."""


class ImagesConfig(Strict):
    """Where the instances' images come from and how they are pulled: as needed, a few ahead of the workers,
    within a disk budget, waiting when the registry rate-limits (see `harness.pipeline.imagecache`)."""

    pull: bool = True
    """Pull missing images as the runs need them (else: a missing image ends its runs `image_unavailable`)."""
    name: str | None = None
    """A template over the row's fields for the image to run, e.g. `myregistry.example:5000/sweb/{instance_id}`
    or a mirror's naming (`{image}` is the row's own image); None: the row's `image` field."""
    prefetch: int = Field(3, ge=0)
    """Images pulled ahead of those the workers are running, so pulls overlap runs."""
    pull_workers: int = Field(2, ge=1)
    """Pulls under way at once."""
    pull_retries: int = Field(3, ge=1)
    """Tries per image on a registry fault (5xx, dropped connection) before its runs end `image_unavailable`;
    rate limits (`toomanyrequests`) are waited out and not counted."""
    pulls_per_minute: float = Field(10.0, gt=0)
    """At most this many pulls start per minute (registries rate-limit pulls)."""
    rate_limit_wait: float = Field(60.0, gt=0)
    """Seconds to wait after `toomanyrequests` when the registry does not say (Retry-After); doubled on each
    refusal in a row, up to 15 minutes."""
    max_disk_gb: float = Field(0.0, ge=0)
    """Gigabytes the images patchmix pulled may take at once (Docker's image sizes); 0: no bound. An image
    patchmix pulled is removed once no planned run needs it, and, when over budget, the least recently used
    one no run is using. Images that were already present are never removed by the pipeline."""


class ExecutorConfig(Strict):
    """Where agent runs execute; both kinds leave the same run folder."""

    kind: Literal["local", "ray"] = "local"
    """`local`: `workers` threads in this process; `ray`: tasks on a Ray cluster (docs/guides/cluster.md)."""
    address: str | None = None
    """The Ray cluster to join, e.g. `10.0.0.1:6379`; none: `auto`, the cluster this machine belongs to."""


Rate = Annotated[float, Field(ge=0, le=1)]


class SelectConfig(Strict):
    """The pipeline's last stage: one patch per instance among the patches of every finished run (see
    `harness.select`), written to `runs/<name>/selected/` and shown by `patchmix report` beside the iterations and
    the oracle. The simple rules (`last`, `vote`, `last-complete`) always run; the fitted selector runs when
    `selector` or `fit_on` names where its weights come from. It reads no verdict of this run's own instances."""

    selector: str | None = None
    """A selector.json written by an earlier `patchmix select` (relative to the config file's folder)."""
    fit_on: list[str] = Field(default_factory=list)
    """Scored pools to fit the selector on: run folders, predictions files or candidates files (relative to the
    config file's folder), e.g. an earlier evaluated run of the same models."""
    execution: list[str] = Field(default_factory=list)
    """Execution results of the `fit_on` pools' candidates: `execution.jsonl` files, written beside an earlier
    selection's picks when it ran with `execute` (relative to the config file's folder). Their test results become
    features of the fitted selector, which then weighs this run's own results (with `execute`) the same way."""
    top_k: int | None = Field(None, ge=1)
    """Pick among the `top_k` most reliable systems (None: all)."""
    clusters: str | None = None
    """A routing profile (`patchmix route fit`, relative to the config file's folder): the fitted selector also
    weighs each system's resolve rate in the issue's cluster, the issues read from the pipeline's dataset file."""
    execute: bool = False
    """Check each pick by running the repository's existing tests for the changed modules in the instance's
    container, before and after the patch; a pick that breaks a passing test gives way to the next candidate."""
    reproduce: str | None = None
    """With `execute`: the label (in `models`) of the model that writes a reproduction script per instance from
    the issue alone; kept if it fails on the original code, the candidates it passes on come first."""
    judge: str | None = None
    """The label (in `models`) of a model that compares the top groups of changes and may overrule the selector
    or abstain."""
    judge_budget: float | None = Field(None, gt=0)
    """Dollars the judge may spend over the stage (None: no cap)."""
    priors: dict[str, Rate] | str | None = None
    """What you know of models without scored history: each one's published resolve rate (a share between 0 and
    1) by model label (or system), inline or as a YAML/JSON file relative to the config file's folder. The fitted
    selector takes it as the model's reliability prior in place of the fitting pool's default and falls back to
    the stated-best model's change unless its other signals clearly say otherwise (`harness.select.stated`)."""

    @field_validator("priors", mode="before")
    @classmethod
    def check_rates(cls, value):
        """An inline mapping's rates, each named in the message (the union's own message would not be read)."""
        for key, rate in (value.items() if isinstance(value, dict) else ()):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
                raise ValueError(f"the prior of {key!r} is {rate!r}; give a share between 0 and 1 (e.g. {key}: 0.62)")
        return value


class PipelineConfig(Strict):
    """A pipeline config file, as `patchmix run` reads it: the dataset, the models, the iterations and how they
    run."""

    name: str
    """The run's name: results go to runs/<name>/."""
    dataset: DatasetConfig
    """The rows to run (see DatasetConfig)."""
    instances: SelectionConfig = Field(default_factory=SelectionConfig)
    """Which of the dataset's instances to run (all by default); may change between resumes."""
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    """Limits and container settings shared by every iteration."""
    models: dict[str, ModelConfig]
    """Keyed by label; the label names folders and is how iterations refer to a model."""
    iterations: list[IterationConfig]
    """The iterations, run one after the other; an iteration may draw on earlier ones only."""
    workers: int = 1
    """Agent runs under way at once with the local executor (`--workers` overrides it; on Ray, the nodes'
    `patchmix_container` resources decide); may change between resumes."""
    budget: float = 0.0
    """Dollars for the whole run folder, all workers and resumes together; once spent no new run starts (0: none)."""
    provider_concurrency: dict[str, int] = Field(default_factory=dict)
    """Model calls in flight at once per litellm provider, e.g. {fireworks_ai: 8} (absent: no cap)."""
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    """The local thread pool (default) or a Ray cluster; may change between resumes."""
    max_patch_chars: int = 20_000
    """Characters of one earlier patch shown in a prompt; longer ones are cut with a notice."""
    prompts_dir: str | None = None
    """A folder of your own Jinja templates (relative to the config file), searched before the shipped ones."""
    images: ImagesConfig = Field(default_factory=ImagesConfig)
    """Pulling the instances' images as the runs need them, within a disk budget; may change between resumes."""
    select: SelectConfig | None = None
    """A select stage after the last iteration (see SelectConfig); may change between resumes."""

    def model_post_init(self, _context) -> None:
        for label, model in self.models.items():
            model.label = label

    def get_agent_config(self, iteration: int | None, label: str) -> AgentConfig:
        """The agent of model `label` in `iteration`; None: with the defaults alone (the select stage's
        reproduction agent)."""
        spec = self.iterations[iteration - 1] if iteration else IterationConfig(models=[label])
        return AgentConfig(model=self.models[label], limits=spec.limits or self.defaults.limits,
                           container=self.defaults.container, system_template=spec.system_template,
                           instance_template=spec.instance_template,
                           keep_observations=self.defaults.keep_observations, prompts_dir=self.prompts_dir,
                           compaction_template=self.defaults.compaction_template,
                           summary_template=spec.summary_template)
