"""`patchmix select`: argument parsing and printing; the picks are made by the modules beside."""

from __future__ import annotations

from pathlib import Path

from harness.exceptions import PatchmixError


def add_parser(subparsers) -> None:
    select = subparsers.add_parser("select", help="pick one patch per instance among candidates (rules and a fitted "
                                                  "selector); --evaluate: held-out figures on a scored pool")
    select.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="a run folder (evaluated, to know what the picks resolve), SWE-bench predictions files "
                             "([LABEL=]PATH) or a candidates .jsonl(.gz) with instance_id, system, model_patch[, resolved]")
    select.add_argument("--evaluate", action="store_true", help="held-out evaluation on a scored pool")
    select.add_argument("--top-k", nargs="+", metavar="K", help="pick among the K most reliable systems ('all': "
                        "every system); with --evaluate, one table per K (default 3 5 all)")
    select.add_argument("--seeds", type=int, default=5, help="--evaluate: seeds (default 5)")
    select.add_argument("--folds", type=int, default=5, help="--evaluate: folds over instances (default 5)")
    select.add_argument("--leave-systems-out", action="store_true",
                        help="--evaluate: also hold out half of the systems in each fold")
    select.add_argument("--fit-on", nargs="+", metavar="POOL", help="fit the selector on this scored pool")
    select.add_argument("--selector", help="apply a selector.json written by an earlier `patchmix select`")
    select.add_argument("--dataset", help="the candidates' dataset: each pick is then checked by running the "
                                          "repository's existing tests in the instance's container (Docker)")
    select.add_argument("--models", metavar="FILE", help="a YAML file with a `models:` section (a pipeline config "
                                                         "serves) for --reproduce and --judge")
    select.add_argument("--reproduce", metavar="LABEL", help="with --dataset: this model writes a reproduction "
                        "script per instance from the issue; the picks it passes on come first")
    select.add_argument("--judge", metavar="LABEL", help="with --dataset: this model compares the top groups of "
                        "changes and may overrule the selector (or abstain)")
    select.add_argument("--clusters", metavar="PROFILE", help="a routing profile (`patchmix route fit`): the "
                        "selector also weighs each system's resolve rate in the issue's cluster")
    select.add_argument("--issues", metavar="DATASET", help="with --clusters: the issues' texts (.jsonl or .json "
                        "with instance_id, repo, problem_statement; default: --dataset)")
    select.add_argument("--judge-budget", type=float, metavar="USD", help="stop asking the judge once this is spent")
    select.add_argument("--priors", metavar="FILE", help="a YAML/JSON file mapping model label or system to its "
                        "published resolve rate (0 to 1): the reliability prior of systems without scored history")
    select.add_argument("--execution", nargs="+", metavar="FILE", help="execution.jsonl files written by earlier "
                        "selections with --dataset: the candidates' test results become features of the fitted "
                        "selector")
    select.add_argument("--out", help="output folder (default RUN/selected/combined, ./selected, or "
                                      "runs/select-<pool> with --evaluate)")
    select.set_defaults(func=cmd_select)


def cmd_select(args) -> int:
    from harness.select.picks import make_checks, parse_top_k, run_evaluation, run_selection  # lazy: command
    from harness.select.rules import format_selection, select_patches  # lazy: command
    from harness.select.stated import read_priors  # lazy: command
    sources = args.sources
    clusters, issues = (Path(args.clusters) if args.clusters else None), args.issues or args.dataset
    if args.evaluate:
        top_ks = [parse_top_k(k) for k in (args.top_k or ["3", "5", "all"])]
        name = Path(sources[0]).name.split(".")[0]
        out = Path(args.out) if args.out else Path("runs") / f"select-{name}"
        print(run_evaluation(sources, top_ks, args.seeds, args.folds, args.leave_systems_out, Path(out),
                             clusters, issues))
        return 0
    priors = read_priors(Path(args.priors)) if args.priors else None
    run = Path(sources[0])
    is_run = len(sources) == 1 and run.is_dir()
    if is_run:
        print(format_selection(select_patches(run)))
        print(f"picks in {run / 'selected'}/<strategy>/preds.jsonl")
    out = Path(args.out) if args.out else (run / "selected" / "combined" if is_run else Path("selected"))
    top_k = parse_top_k(args.top_k[0]) if args.top_k else None
    checks = make_checks(args.dataset, args.models, args.reproduce, args.judge, args.judge_budget)
    try:
        print(run_selection(sources, out, args.fit_on, Path(args.selector) if args.selector else None, top_k,
                            checks, clusters, issues, priors,
                            [Path(p) for p in args.execution] if args.execution else None))
    except PatchmixError as error:
        if not is_run:
            raise
        print(f"combined selector skipped: {error}")
    return 0
