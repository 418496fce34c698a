"""Routed iterations: an iteration with `route: {file: routing.json, top: 2}` runs, for each instance, only the
models the routing file names for it (the first `top` of them); every other model of the iteration gets a
finished record instead of a run (written by `skipping.skip_unrouted`): exit status `skipped_routed`, no patch,
cost 0. So resume counts it finished, it is scored as no patch, and the report counts it as a run saved.

The routing file is data written by `patchmix route apply` (format `patchmix-routing/1`); this module reads it
and never imports the route stage. An instance the file does not name runs every model of the iteration.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from harness.exceptions import ConfigError
from harness.pipeline.config import PipelineConfig

FORMAT = "patchmix-routing/1"


def resolve_route_files(config: PipelineConfig, base: Path) -> None:
    """Each routing file is taken relative to the config's folder, read once, and checked against the models."""
    for number, spec in enumerate(config.iterations, start=1):
        if spec.route is None:
            continue
        path = Path(spec.route.file)
        path = path if path.is_absolute() else (base / path).resolve()
        spec.route.file = str(path)
        routing = read_routing(str(path))
        extra = [label for labels in spec.route.samples.values() for label in labels]
        for label in [*spec.route.samples, *extra]:
            if label not in spec.models:
                raise ConfigError(f"config key iterations[{number}].route.samples: {label!r} is not a model of that "
                                  f"iteration ({', '.join(spec.models)})")
        for instance_id, entry in routing.items():
            unknown = [m for m in entry if m not in spec.models]
            if unknown:
                raise ConfigError(f"config key iterations[{number}].route.file: {path} routes {instance_id} to "
                                  f"{unknown[0]!r}, not a model of that iteration ({', '.join(spec.models)}); "
                                  "route with `patchmix route apply --label NAME=LABEL`")


@lru_cache(maxsize=16)
def read_routing(path: str) -> dict[str, tuple[str, ...]]:
    """{instance_id: routed labels, best first} from a routing file; one line names what is wrong."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"routing file {path}: cannot read it ({error.strerror}); "
                          "write one with `patchmix route apply`") from error
    except json.JSONDecodeError as error:
        raise ConfigError(f"routing file {path}: not JSON ({error.msg}, line {error.lineno})") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("instances"), dict):
        raise ConfigError(f"routing file {path}: not of format {FORMAT}; write one with `patchmix route apply`")
    return {i: tuple(entry["models"]) for i, entry in data["instances"].items()}


def get_routed(config: PipelineConfig, iteration: int, instance_id: str) -> tuple[str, ...] | None:
    """The labels that run this instance in this iteration, or None when the iteration is not routed for it."""
    rule = config.iterations[iteration - 1].route
    if rule is None:
        return None
    routed = read_routing(rule.file).get(instance_id)
    if routed is None:
        return None
    routed = routed[:rule.top] if rule.top else routed
    return tuple(dict.fromkeys(s for label in routed for s in (label, *rule.samples.get(label, []))))
