"""`patchmix demo`: argument parsing and printing; the demo itself is in `scenario.py`."""

from __future__ import annotations

from pathlib import Path


def add_parser(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="the key-free demo: scripted models, three iterations, scoring, report")
    demo.add_argument("--runs-dir", default="runs")
    demo.add_argument("--workers", type=int, help="parallel runs (default: the demo config's)")
    demo.add_argument("--multilingual", action="store_true",
                      help="run on the Go, Rust and JavaScript tasks (demo/multilingual.yaml) instead")
    demo.set_defaults(func=cmd_demo)


def cmd_demo(args) -> int:
    from harness.demo.scenario import run_demo  # lazy: command
    summary = run_demo(Path(args.runs_dir), workers=args.workers, multilingual=args.multilingual)
    print(summary.read_text())
    print(f"demo report: {summary} (charts beside it); the models in this demo are scripted, see the README")
    return 0
