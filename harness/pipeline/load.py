"""Loading and checking a pipeline config: every mistake is found at start and named by its key."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from pydantic import TypeAdapter, ValidationError

from harness.pipeline.routing import resolve_route_files
from harness.pipeline.config import PipelineConfig, Rate
from harness.pipeline.dataset import LOCAL_SUFFIXES
from harness.exceptions import ConfigError
from harness.agent.prompts import find_template, get_search_path
from harness.secrets import watch_variable

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
LOCATION_KEYS = {"name", "path", "split", "prompts_dir", "selector", "clusters", "profile", "fit_on", "label",
                 "pro_scripts_dir", "priors", "execution"}
"""Settings that hold a file location or a name, never a credential: ${NAME} expanded into them is not masked."""


def expand_env(text: str, expanded: dict[str, str] | None = None) -> str:
    """Replace ${NAME} with the environment variable's value; an unset one is an error. Each variable expanded
    goes into `expanded` with its value."""
    def lookup(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(f"the config refers to ${{{name}}}, which is not set in the environment")
        if expanded is not None:
            expanded[name] = os.environ[name]
        return os.environ[name]
    return ENV_REFERENCE.sub(lookup, text)


def watch_expanded(data, expanded: dict[str, str], key: str = "") -> None:
    """Mask (`watch_variable`) each variable expanded into a setting that is not a file location or a name, so
    that a value put into the config with ${NAME} (a URL with a token, a key) never reaches a file, whatever the
    variable is called. Locations stay readable: `patchmix evaluate` reads the dataset's path from config.yaml."""
    if isinstance(data, dict):
        for name, value in data.items():
            watch_expanded(value, expanded, str(name))
    elif isinstance(data, list):
        for value in data:
            watch_expanded(value, expanded, key)
    elif isinstance(data, str) and key not in LOCATION_KEYS:
        for name, value in expanded.items():
            if value and value in data:
                watch_variable(name)


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """One line: what the YAML parser found, and where (1-based line and column)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def load_pipeline_config(path: Path) -> PipelineConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    expanded: dict[str, str] = {}
    try:
        data = yaml.safe_load(expand_env(path.read_text(), expanded)) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {describe_yaml_error(error)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of config keys (name, dataset, models, iterations...)")
    watch_expanded(data, expanded)
    try:
        config = PipelineConfig(**data)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path}: config key {key}: {first['msg']}") from None
    resolve_dataset_path(config, path.parent)
    resolve_prompts_dir(config, path.parent)
    check_pipeline(config)
    resolve_route_files(config, path.parent)
    resolve_select_paths(config, path.parent)
    return config


def resolve_select_paths(config: PipelineConfig, base: Path) -> None:
    """The select stage's selector and pools are taken relative to the config's folder, and must exist."""
    stage = config.select
    if stage is None:
        return
    for key in ("reproduce", "judge"):
        label = getattr(stage, key)
        if label and label not in config.models:
            raise ConfigError(f"config key select.{key}: unknown model {label!r} (the models section has: "
                              f"{', '.join(config.models) or 'none'})")
    if stage.clusters and stage.selector:
        raise ConfigError("config key select.clusters: it is for fitting a selector (select.fit_on); a selector.json "
                          "places issues with the clusters it was fitted with: drop select.clusters")
    if stage.reproduce and not stage.execute:
        raise ConfigError("config key select.reproduce: a reproduction script is run in the instance's container; "
                          "set select.execute: true as well")

    def resolve(key: str, value: str, what: str = "a selector.json from `patchmix select`, or a scored run folder "
                                                  "or pool file") -> str:
        candidate = Path(value) if Path(value).is_absolute() else (base / value).resolve()
        if not candidate.exists():
            raise ConfigError(f"config key {key}: {value} does not exist (looked at {candidate}); give {what}")
        return str(candidate)

    if stage.priors is not None and not (stage.selector or stage.fit_on):
        raise ConfigError("config key select.priors: the priors weigh the fitted selector's systems; give "
                          "select.fit_on (a scored pool) or select.selector as well")
    if isinstance(stage.priors, str):
        stage.priors = read_priors_file(Path(resolve("select.priors", stage.priors, "a YAML or JSON file mapping "
                                                     "each model label to its published resolve rate")))
    if stage.selector:
        stage.selector = resolve("select.selector", stage.selector)
    stage.fit_on = [resolve(f"select.fit_on.{n}", pool) for n, pool in enumerate(stage.fit_on)]
    if stage.execution and not stage.fit_on:
        raise ConfigError("config key select.execution: it holds the test results of the select.fit_on pools' "
                          "candidates; give select.fit_on as well")
    stage.execution = [resolve(f"select.execution.{n}", path, "an execution.jsonl written beside an earlier "
                               "selection's picks") for n, path in enumerate(stage.execution)]
    if stage.clusters:
        stage.clusters = resolve("select.clusters", stage.clusters, "a routing profile from `patchmix route fit`")
        if not config.dataset.path.endswith((".json", ".jsonl")):
            raise ConfigError("config key select.clusters: the issue texts come from the dataset, so dataset.path "
                              f"must be a local .json or .jsonl file, not {config.dataset.path!r}")


def read_priors_file(path: Path, key: str = "config key select.priors") -> dict[str, float]:
    """A priors file's mapping (model label or system -> resolve rate between 0 and 1), or one line saying what to
    fix (starting with `key`, where the file was given)."""
    fix = "give a YAML or JSON mapping of each model label to its published resolve rate, a share between 0 and 1 " \
          "(e.g. `gpt: 0.62`)"
    try:
        data = yaml.safe_load(path.read_text())
        return TypeAdapter(dict[str, Rate]).validate_python(data)
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {path} ({error.strerror}); {fix}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{key}: {path} is not valid YAML or JSON ({describe_yaml_error(error)}); {fix}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise ConfigError(f"{key}: {path}: {where}: {first['msg']}; {fix}") from None


def resolve_dataset_path(config: PipelineConfig, base: Path) -> None:
    """A local dataset path is taken relative to the config's folder, and must exist; Pro's scripts folder is
    taken relative to that folder too."""
    if config.dataset.pro_scripts_dir and not Path(config.dataset.pro_scripts_dir).is_absolute():
        config.dataset.pro_scripts_dir = str((base / config.dataset.pro_scripts_dir).resolve())
    if not config.dataset.path.endswith(LOCAL_SUFFIXES):
        return
    candidate = Path(config.dataset.path)
    if not candidate.is_absolute():
        candidate = (base / candidate).resolve()
    if not candidate.is_file():
        raise ConfigError(f"config key dataset.path: the file {config.dataset.path} does not exist "
                          f"(looked at {candidate})")
    config.dataset.path = str(candidate)


def resolve_prompts_dir(config: PipelineConfig, base: Path) -> None:
    """A user's own templates folder is taken relative to the config's folder, and must exist."""
    if not config.prompts_dir:
        return
    folder = Path(config.prompts_dir)
    folder = folder if folder.is_absolute() else (base / folder).resolve()
    if not folder.is_dir():
        raise ConfigError(f"config key prompts_dir: the folder {config.prompts_dir} does not exist (looked at {folder})")
    config.prompts_dir = str(folder)


def check_pipeline(config: PipelineConfig) -> None:
    if not config.iterations:
        raise ConfigError("config key iterations: give at least one iteration")
    for number, spec in enumerate(config.iterations, start=1):
        key = f"iterations[{number}]"
        for label in spec.models:
            if label not in config.models:
                raise ConfigError(f"config key {key}.models: unknown model {label!r} "
                                  f"(the models section has: {', '.join(config.models) or 'none'})")
        for template in (spec.system_template, spec.instance_template, *filter(None, [spec.summary_template])):
            if find_template(template, config.prompts_dir) is None:
                raise ConfigError(f"config key {key}: no template {template!r} in "
                                  f"{' or '.join(get_search_path(config.prompts_dir))}")
        if spec.skip_if_agreed and not spec.draws_on:
            raise ConfigError(f"config key {key}.skip_if_agreed: the iteration draws on no earlier one, so there "
                              "are no patches to agree; add draws_on or remove skip_if_agreed")
        for earlier in spec.draws_on:
            if not 1 <= earlier < number:
                raise ConfigError(f"config key {key}.draws_on: iteration {earlier} is not an earlier iteration "
                                  f"(iteration {number} can draw on 1 to {number - 1})")
    if config.workers < 1:
        raise ConfigError("config key workers: must be at least 1")
