"""`patchmix report`, `show`, `analyze` and `replay`: argument parsing and printing; the work is in the modules
beside."""

from __future__ import annotations

from pathlib import Path

from harness.pipeline.commands import DATASET_HELP


def add_parser(subparsers) -> None:
    """`report`, `show`, `analyze` and `replay` (the CLI lists them among the other stages' commands)."""
    report = subparsers.add_parser("report", help="write report/summary.md, summary.json, charts and the run browser "
                                                  "(report/site/index.html) for a run")
    report.add_argument("run", help="the run folder, e.g. runs/demo")
    report.set_defaults(func=cmd_report)

    show = subparsers.add_parser("show", help="a run's candidates in the terminal, or one instance's trajectory and "
                                              "diff")
    show.add_argument("run", help="the run folder, e.g. runs/demo")
    show.add_argument("instance", nargs="?", help="an instance id: show its candidates and one trajectory")
    show.add_argument("--iteration", type=int, help="the candidate's iteration (default: the last candidate)")
    show.add_argument("--model", help="the candidate's model label")
    show.add_argument("--full", action="store_true", help="print long observations in full instead of folded")
    show.add_argument("--no-pager", action="store_true", help="print instead of paging on a terminal")
    show.set_defaults(func=cmd_show)

    analyze = subparsers.add_parser("analyze", help="overlap and oracle tables for results from anywhere")
    analyze.add_argument("sources", nargs="+", help="LABEL=PATH or PATH: a harness report, results.json, "
                                                    "a JSON list of ids, or a CSV with one 0/1 column per run")
    analyze.add_argument("--total", type=int, help="number of instances (e.g. 500), for the 'resolved by none' count")
    analyze.add_argument("--out", help="folder for analysis.md, analysis.json and charts")
    analyze.add_argument("--dataset", help="the results' dataset (a benchmark name, a file or a Hugging Face id): "
                         "results are then broken down by language, and --total defaults to its size")
    analyze.set_defaults(func=cmd_analyze)

    replay = subparsers.add_parser("replay", help="replay recorded trajectories (patchmix's or mini-swe-agent's) "
                                                  "without a model and compare the patch (and verdict) with the "
                                                  "recorded one")
    replay.add_argument("trajectories", nargs="+", metavar="TRAJECTORY",
                        help="a patchmix *.traj.json, a mini-swe-agent *.traj.json, or a .jsonl(.gz) of them")
    replay.add_argument("--dataset", required=True, help="the instances' rows (SWE-bench 5.x form, with images): "
                        + DATASET_HELP)
    replay.add_argument("--ids", nargs="+", help="only these instance ids")
    replay.add_argument("--predictions", help="the recorded patches (a SWE-bench predictions file), when the "
                                              "trajectories do not hold them")
    replay.add_argument("--evaluate", action="store_true", help="score the replayed patches with the official harness")
    replay.add_argument("--resolved", help="the recorded verdicts (JSON list of resolved ids, or a harness report) "
                                           "to compare with; implies --evaluate")
    replay.add_argument("--out", default="runs/replay", help="folder for replay.json (and preds.jsonl, scratch/)")
    replay.set_defaults(func=cmd_replay)


def cmd_report(args) -> int:
    from harness.analysis.report import write_report  # lazy: command
    summary = write_report(Path(args.run))
    print(summary.read_text())
    print(f"report written to {summary.parent}; run browser: {summary.parent / 'site' / 'index.html'}")
    return 0


def cmd_show(args) -> int:
    from harness.analysis.show import show_run  # lazy: command
    show_run(Path(args.run), args.instance, iteration=args.iteration, model=args.model, full=args.full,
             pager=False if args.no_pager else None)
    return 0


def cmd_analyze(args) -> int:
    from harness.analysis.sources import analyze_sources, render_analysis  # lazy: command
    result = analyze_sources(args.sources, Path(args.out) if args.out else None, total=args.total,
                             dataset=args.dataset)
    print(render_analysis(result))
    return 0


def cmd_replay(args) -> int:
    from harness.analysis.replay import format_replay, replay_files  # lazy: command
    out = Path(args.out)
    summary = replay_files(args.trajectories, args.dataset, out, ids=args.ids, predictions=args.predictions,
                           resolved=args.resolved, evaluate=args.evaluate or bool(args.resolved))
    print(format_replay(summary))
    print(f"details in {out / 'replay.json'}")
    return 0
