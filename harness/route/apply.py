"""`patchmix route apply`: the top-n models for each new instance, with the expected resolve rate.

The routing file is plain data that the pipeline reads (it never imports this package):
`{"format": ..., "top": n, "instances": {instance_id: {"models": [label, ...], "expected": rate,
"cluster": c}}}`. Labels are the profile's model names, or the pipeline's labels through `--label NAME=LABEL`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.exceptions import ConfigError
from harness.fileio import write_json_atomic
from harness.route import profile as prof
from harness.route.data import Issue, issue_text
from harness.route.embed import embed_texts

FORMAT = "patchmix-routing/1"


def route_issues(profile: prof.Profile, issues: list[Issue], top: int, cache_dir: Path | None = None,
                 labels: dict[str, str] | None = None) -> dict:
    """The routing of these issues: per instance, its `top` models (best single first) and expected rate."""
    if not 1 <= top <= len(profile.models):
        raise ConfigError(f"--top {top}: give a number from 1 to {len(profile.models)} (the profile's models)")
    vectors = embed_texts([issue_text(i) for i in issues], profile.embedder, cache_dir)
    clusters = prof.nearest(profile.centroids, vectors)
    sets, rates = prof.route_sets(profile, clusters, top)
    names = [(labels or {}).get(m, m) for m in profile.models]
    return {"format": FORMAT, "top": top, "instances": {
        issue.instance_id: {"models": [names[m] for m in order_members(profile, c, s)],
                            "expected": round(float(r), 4), "cluster": int(c)}
        for issue, c, s, r in zip(issues, clusters, sets, rates)}}


def order_members(profile: prof.Profile, cluster: int, members: np.ndarray) -> list[int]:
    """A set's models, the one with the best smoothed rate in the cluster first."""
    rates = prof.expected_rates(profile, np.array([cluster]), [(int(m),) for m in members])[0]
    return [int(members[i]) for i in np.argsort(-rates, kind="stable")]


def write_routing(routing: dict, path: Path) -> Path:
    write_json_atomic(Path(path), routing)
    return Path(path)


def parse_labels(pairs: list[str]) -> dict[str, str]:
    """`NAME=LABEL` pairs: a profile model name to the pipeline label it runs under."""
    out = {}
    for pair in pairs:
        name, sep, label = pair.partition("=")
        if not sep or not name or not label:
            raise ConfigError(f"--label {pair!r}: write NAME=LABEL (a profile model name, then a pipeline label)")
        out[name] = label
    return out
