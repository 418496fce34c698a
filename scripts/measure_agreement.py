"""What agreement-based skipping saves and risks on real candidates (issue 14's figure).

Reads a candidates pool (`instance_id, system, model_patch, resolved`, gzipped JSONL, e.g.
../shared/data/candidates-2024/candidates.jsonl.gz), ranks the systems by how many instances they resolve on
the whole pool (in-sample; no held-out split), takes the top K, and counts the instances whose top-K patches
agree after normalisation (`harness.diffs.get_change_key`), by at least M of the K systems, and how many of
those the agreed patch resolves. Prints the figures.

    python3 scripts/measure_agreement.py ../shared/data/candidates-2024/candidates.jsonl.gz [--top 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter, defaultdict

from harness.diffs import get_change_key


def read_pool(path: str) -> dict[str, dict[str, dict]]:
    opener = gzip.open if path.endswith(".gz") else open
    pool: dict[str, dict[str, dict]] = defaultdict(dict)
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                pool[row["instance_id"]][row["system"]] = row
    return pool


def rank_systems(pool: dict) -> list[tuple[str, int]]:
    counts = Counter(system for rows in pool.values() for system, row in rows.items() if row.get("resolved"))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def find_agreement(rows: list[dict], at_least: int) -> tuple[list[dict], str] | None:
    """The largest group of non-empty patches with one change key, if it holds at least `at_least` rows."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        key = get_change_key(row.get("model_patch") or "")
        if key:
            groups[key].append(row)
    if not groups:
        return None
    key, group = max(groups.items(), key=lambda item: len(item[1]))
    return (group, key) if len(group) >= at_least else None


def measure(pool: dict, systems: list[str], at_least: int) -> dict:
    agreed = resolved = mixed = 0
    for rows in pool.values():
        found = find_agreement([rows[s] for s in systems if s in rows], at_least)
        if found is None:
            continue
        group, _ = found
        agreed += 1
        verdicts = {bool(row.get("resolved")) for row in group}
        resolved += verdicts == {True}
        mixed += len(verdicts) > 1
    return {"instances": len(pool), "agreed": agreed, "agreed_resolved": resolved, "verdicts_differ": mixed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pool")
    parser.add_argument("--top", type=int, default=3)
    args = parser.parse_args()
    pool = read_pool(args.pool)
    ranked = rank_systems(pool)
    top = [system for system, _ in ranked[: args.top]]
    print(f"{len(pool)} instances; top {args.top} systems by resolved count on the whole pool:")
    for system, count in ranked[: args.top]:
        print(f"  {count:4d}  {system}")
    best = ranked[0][1]
    for at_least in range(args.top, 1, -1):
        m = measure(pool, top, at_least)
        share = 100 * m["agreed_resolved"] / m["agreed"] if m["agreed"] else 0.0
        print(f"at least {at_least} of {args.top} agree: {m['agreed']} instances, {m['agreed_resolved']} resolved "
              f"({share:.1f}%), {m['verdicts_differ']} with differing verdicts inside the group; "
              f"skipping them would save {m['agreed']} of {m['instances']} later runs "
              f"(best single system resolves {best} of {m['instances']}, "
              f"{100 * best / m['instances']:.1f}%)")


if __name__ == "__main__":
    main()
