"""`patchmix validate-gold`, and the `--official-containers` flag every scoring command shares: argument parsing
and printing; the work is in the modules beside."""

from __future__ import annotations

from pathlib import Path

from harness.pipeline.commands import DATASET_HELP
from harness.scoring.containers import ISOLATED, OFFICIAL, OFFICIAL_CONTAINERS_FLAG


def add_parser(subparsers) -> None:
    gold = subparsers.add_parser("validate-gold", help="score a dataset's gold patches here, to find broken instances")
    gold.add_argument("--dataset", required=True, help=DATASET_HELP)
    gold.add_argument("--split", default="test")
    gold.add_argument("--ids", nargs="+", help="only these instance ids")
    gold.add_argument("--filter", help="only instance ids matching this regular expression")
    gold.add_argument("--workers", type=int, default=2)
    gold.add_argument("--timeout", type=int, default=1800, help="seconds per instance's tests")
    gold.add_argument("--out", help="folder for gold-check.json (default runs/gold-check/<dataset>)")
    gold.add_argument("--pro-scripts-dir", help="for SWE-bench Pro rows: the run_scripts/ folder of your "
                      "SWE-bench_Pro-os checkout (one <instance_id>/ with run_script.sh and parser.py per row)")
    add_containers_flag(gold)
    gold.set_defaults(func=cmd_validate_gold)


def add_containers_flag(parser) -> None:
    parser.add_argument(OFFICIAL_CONTAINERS_FLAG, action="store_true",
                        help="score in the official harness's own containers (default network, SYS_ADMIN added) "
                             "instead of patchmix's isolated ones, to match it exactly")


def get_containers(args) -> str:
    """Where candidates run while scored: patchmix's isolated containers, or the harness's own."""
    return OFFICIAL if args.official_containers else ISOLATED


def cmd_validate_gold(args) -> int:
    from harness.scoring.goldcheck import format_gold_summary, validate_gold  # lazy: command
    out = Path(args.out) if args.out else Path("runs") / "gold-check" / Path(args.dataset).stem.replace("/", "_")
    summary = validate_gold(args.dataset, out, split=args.split, ids=args.ids, pattern=args.filter,
                            workers=args.workers, timeout=args.timeout, containers=get_containers(args),
                            pro_scripts_dir=args.pro_scripts_dir)
    print(format_gold_summary(summary))
    print(f"details in {out / 'gold-check.json'}")
    return 0 if summary["resolved"] == summary["checked"] else 1
