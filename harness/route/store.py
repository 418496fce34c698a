"""The profile as a small JSON file holding the data it was fitted on (ids, 0/1 results, clusters)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness.exceptions import ConfigError
from harness.fileio import write_text_atomic
from harness.route.profile import Profile

FORMAT = "patchmix-route-profile/1"


def save_profile(profile: Profile, path: Path) -> Path:
    write_text_atomic(Path(path), json.dumps({
        "format": FORMAT,
        "embedder": profile.embedder,
        "models": profile.models,
        "shrink": profile.shrink,
        "pool": [profile.models[m] for m in profile.pool],
        "k": len(profile.centroids),
        "k_scores": {str(k): v for k, v in profile.k_scores.items()},
        "centroids": np.round(profile.centroids, 6).tolist(),
        "instances": [{"instance_id": i, "cluster": int(c), "resolved": "".join(map(str, row))}
                      for i, c, row in zip(profile.ids, profile.labels, profile.results.tolist())],
    }, separators=(",", ":")) + "\n")
    return Path(path)


def load_profile(path: Path) -> Profile:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: not a readable routing profile ({error}); make one with `patchmix route fit`") from error
    if data.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a routing profile of format {FORMAT}; make one with `patchmix route fit`")
    rows = data["instances"]
    return Profile(
        embedder=data["embedder"], models=data["models"], ids=[r["instance_id"] for r in rows],
        results=np.array([[int(ch) for ch in r["resolved"]] for r in rows], dtype=np.int8),
        labels=np.array([r["cluster"] for r in rows], dtype=int), centroids=np.array(data["centroids"]),
        shrink=float(data["shrink"]), pool=[data["models"].index(m) for m in data["pool"]],
        k_scores={int(k): v for k, v in data["k_scores"].items()})
