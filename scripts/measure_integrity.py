"""How often the integrity scan flags real patches, and whether the patch rules would alter a gold patch.

    python scripts/measure_integrity.py [--data ../shared/data] [--out integrity.json]

Over the gold patches of SWE-bench Verified (500), Multilingual (300, with their eval scripts) and the Pro sample
(100, with their run scripts), and the resolved candidates of candidates-2024, it prints per set: patches
scanned, flagged, the rate, and every flag with its reason; then, for the gold patches, how many would lose a file
to the rules that drop test files and test infrastructure (issue 21 point 8: the old folder-name rule against
the one from the test patch and name patterns). Not a test: it prints figures and writes JSON.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.agent.integrity.scan import read_diff, scan_patch  # noqa: E402
from harness.agent.outcome import get_test_files  # noqa: E402
from harness.agent.integrity.testconfig import is_whole_test_config, read_test_config  # noqa: E402
from harness.agent.integrity.evalscript import list_executed_files  # noqa: E402
from harness.agent.integrity.testfiles import is_test_path, list_test_dirs  # noqa: E402

OLD_TEST_DIRS = {"test", "tests", "testing"}


def read_rows(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_sets(data: Path) -> dict[str, list[dict]]:
    """name -> [{id, patch, eval_script, workdir, test_files}]"""
    verified = read_rows(data / "swe-bench-verified.jsonl")
    multilingual = read_rows(data / "multilingual" / "swe-bench-multilingual.jsonl.gz")
    pro = read_rows(data / "swe-bench-pro" / "sample-100.jsonl.gz")
    candidates = [r for r in read_rows(data / "candidates-2024" / "candidates.jsonl.gz") if r.get("resolved")]
    tests = {r["instance_id"]: get_test_files(r) for r in verified}
    return {
        "verified gold": [make_item(r, r["patch"], "", "/testbed", get_test_files(r)) for r in verified],
        "multilingual gold": [make_item(r, r["patch"], r["eval_script"], "/testbed", get_test_files(r))
                              for r in multilingual],
        "pro gold": [make_item(r, r["patch"], read_run_script(data, r), "/app", get_test_files(r)) for r in pro],
        "candidates-2024 resolved": [make_item(r, r["model_patch"], "", "/testbed", tests.get(r["instance_id"], set()),
                                               r["system"]) for r in candidates],
    }


def make_item(row: dict, patch: str, eval_script: str, workdir: str, test_files: set[str], system: str = "") -> dict:
    return {"id": row["instance_id"] + (f" [{system}]" if system else ""), "patch": patch or "",
            "eval_script": eval_script or "", "workdir": workdir, "test_files": test_files}


def read_run_script(data: Path, row: dict) -> str:
    path = data / "swe-bench-pro" / "run_scripts" / row["instance_id"] / "run_script.sh"
    return "cd /app\n" + path.read_text() if path.is_file() else ""


def measure_scan(items: list[dict]) -> dict:
    flagged = {}
    for item in items:
        flags = scan_patch(item["patch"], item["eval_script"], item["test_files"], item["workdir"])
        if flags:
            flagged[item["id"]] = flags
    return {"scanned": len(items), "flagged": len(flagged), "flags": flagged}


def find_dropped(item: dict, old_rule: bool) -> list[str]:
    """Files of a gold patch the patch rules would leave out (by path: test files, whole test-config files,
    eval-script files; under the old rule, any folder named test/tests/testing)."""
    executed = list_executed_files(item["eval_script"], item["workdir"]) if item["eval_script"] else set()
    test_dirs = list_test_dirs(item["test_files"])
    dropped = []
    for diff in read_diff(item["patch"]):
        parts = diff.path.split("/")
        if old_rule:
            hit = bool(OLD_TEST_DIRS & set(parts[:-1])) or is_whole_test_config(diff.path)
        else:
            hit = is_test_path(diff.path, test_dirs, diff.created) or is_whole_test_config(diff.path) \
                or diff.path in executed
        dropped += [diff.path] if hit else []
    return dropped


def count_config_edits(items: list[dict]) -> Counter:
    """Per file name, how many patches edit a file the test-configuration rules read (package.json, Cargo.toml,
    go.mod, pom.xml, Gradle, CMake, Rake, ini/toml files; or a whole test-config file): the rules' exposure."""
    counts = Counter()
    for item in items:
        names = {d.path.rsplit("/", 1)[-1] for d in read_diff(item["patch"])
                 if read_test_config(d.path, b"") is not None or is_whole_test_config(d.path)}
        counts.update(names)
    return counts


def print_scan(name: str, result: dict) -> None:
    rate = result["flagged"] / max(result["scanned"], 1)
    print(f"{name:28s} scanned {result['scanned']:6d}  flagged {result['flagged']:4d}  ({rate:.2%})")
    reasons = Counter(flag["reason"] for flags in result["flags"].values() for flag in flags)
    if reasons:
        print(f"{'':28s} reasons: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--out", default="integrity-measure.json")
    parser.add_argument("--list", action="store_true", help="print every flag")
    args = parser.parse_args()
    sets = load_sets(Path(args.data))
    results = {name: measure_scan(items) for name, items in sets.items()}
    print("integrity scan on real patches")
    for name, result in results.items():
        print_scan(name, result)
    total = sum(r["scanned"] for r in results.values())
    flagged = sum(r["flagged"] for r in results.values())
    print(f"{'all':28s} scanned {total:6d}  flagged {flagged:4d}  ({flagged / total:.2%})")
    print("\nevery flag on a real patch:")
    for name, result in results.items():
        for patch_id, flags in sorted(result["flags"].items()):
            for flag in flags:
                print(f"  {name}: {patch_id}: {flag['path']}:{flag['line']} {flag['reason']}: {flag['detail']}")
    print("\ngold patches that edit a file the test-configuration rules read (none flagged above is a false flag):")
    for name in ("verified gold", "multilingual gold", "pro gold"):
        counts = count_config_edits(sets[name])
        print(f"  {name:20s} " + (", ".join(f"{n} {c}" for n, c in counts.most_common()) or "none"))
    print("\ngold patches that would lose a file (old folder rule -> new rule):")
    drops = {}
    for name in ("verified gold", "multilingual gold", "pro gold"):
        old = {i["id"]: find_dropped(i, True) for i in sets[name]}
        new = {i["id"]: find_dropped(i, False) for i in sets[name]}
        old, new = {k: v for k, v in old.items() if v}, {k: v for k, v in new.items() if v}
        drops[name] = {"old": old, "new": new}
        print(f"  {name:20s} {len(old):3d} -> {len(new):3d}   " + "; ".join(f"{k}: {v}" for k, v in new.items()))
    Path(args.out).write_text(json.dumps({"scan": results, "gold_drops": drops}, indent=1, default=sorted))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
