"""The `patchmix` command: parses arguments and calls the modules that do the work."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from harness.exceptions import InfraError, PatchmixError, describe_storage_error, is_storage_error
from harness.resources import get_bundled_dir
from harness.route.commands import add_route_parser

DATASET_HELP = ("a benchmark's name (`patchmix datasets` lists them), a .json/.jsonl(.gz)/.parquet file or a "
                "Hugging Face id")


def raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def load_yaml(path: str) -> dict:
    file = Path(path)
    if not file.is_file():
        raise PatchmixError(f"config file {path} does not exist")
    return yaml.safe_load(file.read_text()) or {}


def cmd_build_images(args) -> int:
    from harness.tasks.images import build_images
    from harness.tasks.multilingual import MULTILINGUAL_DIR, MULTILINGUAL_ROWS, build_multilingual_images
    from harness.tasks.proimages import ROWS_FILE, build_pro_images

    rows = build_images(Path(args.tasks), force=args.force)
    print(f"{len(rows)} task images ready; dataset rows in {Path(args.tasks) / 'bundled.jsonl'}")
    if not args.python_only and (Path(args.tasks) / MULTILINGUAL_DIR).is_dir():
        rows = build_multilingual_images(Path(args.tasks), force=args.force)
        print(f"{len(rows)} task images in other languages ready; rows in {Path(args.tasks) / MULTILINGUAL_ROWS}")
    if not args.python_only and (Path(args.tasks) / "pro").is_dir():
        pro = build_pro_images(Path(args.tasks) / "pro", force=args.force)
        print(f"{len(pro)} SWE-bench Pro task images ready; rows in {Path(args.tasks) / 'pro' / ROWS_FILE}")
    return 0


def cmd_run_one(args) -> int:
    from harness.agent.config import AgentConfig
    from harness.pipeline.dataset import check_rows_evaluable, load_rows, select_rows
    from harness.agent.environment.docker_environment import remove_leftover_containers
    from harness.agent.attempt import run_instance
    from harness.pipeline.outcomes import EXIT_RUNS_LEFT
    from harness.pipeline.single import make_single_config, save_prediction

    config: AgentConfig = make_single_config(load_yaml(args.config) if args.config else {}, args)
    rows = select_rows(load_rows(args.dataset), ids=[args.instance])
    check_rows_evaluable(rows)
    remove_leftover_containers()
    out = Path(args.output)
    prediction, info = run_instance(rows[0], config, out / f"{args.instance}.traj.json", config.model.label)
    written = save_prediction(out / "preds.jsonl", prediction, info)
    print(f"{args.instance}: {info['exit_status']} after {info.get('steps', 0)} steps, ${info.get('cost', 0):.4f}; "
          f"patch: {info.get('patch_label') or 'none'}; trajectory in {out}")
    if not written:
        print(f"no prediction written: a run that ended {info['exit_status']} is to be redone (fix what stopped "
              "it and rerun the same command)", file=sys.stderr)
        return EXIT_RUNS_LEFT
    return 0


def cmd_run(args) -> int:
    from harness.select.stage import run_then_select

    return run_then_select(Path(args.config), runs_dir=Path(args.runs_dir), iteration=args.iteration,
                           workers=args.workers, executor=args.executor)


def cmd_evaluate(args) -> int:
    from harness.select.stage import evaluate_then_refresh

    evaluate_then_refresh(Path(args.run), workers=args.workers, repeat=args.repeat, timeout=args.timeout,
                          max_retries=args.max_retries, executor=args.executor, address=args.address,
                          containers=get_containers(args))
    return 0


def get_containers(args) -> str:
    """Where candidates run while scored: patchmix's isolated containers, or the harness's own."""
    from harness.scoring.official import ISOLATED, OFFICIAL

    return OFFICIAL if args.official_containers else ISOLATED


def add_containers_flag(parser) -> None:
    parser.add_argument("--official-containers", action="store_true",
                        help="score in the official harness's own containers (default network, SYS_ADMIN added) "
                             "instead of patchmix's isolated ones, to match it exactly")


def cmd_report(args) -> int:
    from harness.analysis.report import write_report

    summary = write_report(Path(args.run))
    print(summary.read_text())
    print(f"report written to {summary.parent}; run browser: {summary.parent / 'site' / 'index.html'}")
    return 0


def cmd_show(args) -> int:
    from harness.analysis.show import show_run

    show_run(Path(args.run), args.instance, iteration=args.iteration, model=args.model, full=args.full,
             pager=False if args.no_pager else None)
    return 0


def cmd_analyze(args) -> int:
    from harness.analysis.sources import analyze_sources, render_analysis

    result = analyze_sources(args.sources, Path(args.out) if args.out else None, total=args.total,
                             dataset=args.dataset)
    print(render_analysis(result))
    return 0


def cmd_select(args) -> int:
    from harness.select.picks import make_checks, parse_top_k, run_evaluation, run_selection
    from harness.select.rules import format_selection, select_patches
    from harness.select.stated import read_priors

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
                            checks, clusters, issues, priors))
    except PatchmixError as error:
        if not is_run:
            raise
        print(f"combined selector skipped: {error}")
    return 0


def cmd_validate_gold(args) -> int:
    from harness.scoring.goldcheck import format_gold_summary, validate_gold

    out = Path(args.out) if args.out else Path("runs") / "gold-check" / Path(args.dataset).stem.replace("/", "_")
    summary = validate_gold(args.dataset, out, split=args.split, ids=args.ids, pattern=args.filter,
                            workers=args.workers, timeout=args.timeout, containers=get_containers(args),
                            pro_scripts_dir=args.pro_scripts_dir)
    print(format_gold_summary(summary))
    print(f"details in {out / 'gold-check.json'}")
    return 0 if summary["resolved"] == summary["checked"] else 1


def cmd_images(args) -> int:
    from harness.pipeline import imagecommands

    target, runs = Path(args.target), Path(args.runs_dir)
    if args.action == "list":
        return imagecommands.list_images(target, runs)
    if args.action == "pull":
        return imagecommands.pull_missing(target, runs)
    return imagecommands.prune_images(target, runs, everything=args.all)


def cmd_replay(args) -> int:
    from harness.analysis.replay import format_replay, replay_files

    out = Path(args.out)
    summary = replay_files(args.trajectories, args.dataset, out, ids=args.ids, predictions=args.predictions,
                           resolved=args.resolved, evaluate=args.evaluate or bool(args.resolved))
    print(format_replay(summary))
    print(f"details in {out / 'replay.json'}")
    return 0


def cmd_demo(args) -> int:
    from harness.demo.scenario import run_demo

    summary = run_demo(Path(args.runs_dir), workers=args.workers, multilingual=args.multilingual)
    print(summary.read_text())
    print(f"demo report: {summary} (charts beside it); the models in this demo are scripted, see the README")
    return 0


def cmd_datasets(args) -> int:
    from harness.pipeline.benchmarks import format_benchmarks

    print(format_benchmarks())
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patchmix", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    build = sub.add_parser("build-images", help="build the base image and the bundled tasks' images")
    build.add_argument("--tasks", default=str(get_bundled_dir("tasks")))
    build.add_argument("--force", action="store_true", help="rebuild images that exist")
    build.add_argument("--python-only", action="store_true",
                       help="skip the images of the tasks in other languages and of the SWE-bench Pro tasks")
    build.set_defaults(func=cmd_build_images)

    datasets = sub.add_parser("datasets", help="the benchmarks patchmix knows by name, and how it runs each")
    datasets.set_defaults(func=cmd_datasets)

    one = sub.add_parser("run-one", help="run one agent on one instance")
    one.add_argument("--dataset", required=True, help=DATASET_HELP)
    one.add_argument("--instance", required=True, help="the instance_id to work on")
    one.add_argument("--model", help="litellm model name (overrides the config's model.name)")
    one.add_argument("--config", help="YAML with model, limits and container settings")
    one.add_argument("--api-base", help="the provider's base URL (overrides the config)")
    one.add_argument("--output", default="runs/single", help="folder for the trajectory and preds.jsonl")
    one.set_defaults(func=cmd_run_one)

    run = sub.add_parser("run", help="run a pipeline config's iterations (resumes where it stopped)")
    run.add_argument("config", help="the pipeline YAML")
    run.add_argument("--iteration", type=int, help="run only this iteration (1-based)")
    run.add_argument("--workers", type=int, help="parallel runs (overrides the config)")
    run.add_argument("--runs-dir", default="runs", help="where run folders go")
    run.add_argument("--executor", choices=["local", "ray"],
                     help="where runs execute (overrides the config's executor.kind); ray: see the README")
    run.set_defaults(func=cmd_run)

    evaluate = sub.add_parser("evaluate", help="score every predictions file of a run with the official harness")
    evaluate.add_argument("run", help="the run folder, e.g. runs/demo")
    evaluate.add_argument("--workers", type=int, default=2, help="predictions files scored at once")
    evaluate.add_argument("--repeat", type=int, default=1, help="score K times and list verdicts that flip")
    evaluate.add_argument("--timeout", type=int, default=1800, help="seconds per instance's tests")
    evaluate.add_argument("--executor", choices=["local", "ray"], default="local",
                          help="ray: each harness call on a node of the Ray cluster (README: Running on a cluster)")
    evaluate.add_argument("--address", help="with --executor ray: the cluster, e.g. 10.0.0.1:6379 (default: auto)")
    evaluate.add_argument("--max-retries", type=int, default=2,
                          help="times an evaluation error is scored again before it is given up")
    add_containers_flag(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    report = sub.add_parser("report", help="write report/summary.md, summary.json, charts and the run browser "
                                           "(report/site/index.html) for a run")
    report.add_argument("run", help="the run folder, e.g. runs/demo")
    report.set_defaults(func=cmd_report)

    show = sub.add_parser("show", help="a run's candidates in the terminal, or one instance's trajectory and diff")
    show.add_argument("run", help="the run folder, e.g. runs/demo")
    show.add_argument("instance", nargs="?", help="an instance id: show its candidates and one trajectory")
    show.add_argument("--iteration", type=int, help="the candidate's iteration (default: the last candidate)")
    show.add_argument("--model", help="the candidate's model label")
    show.add_argument("--full", action="store_true", help="print long observations in full instead of folded")
    show.add_argument("--no-pager", action="store_true", help="print instead of paging on a terminal")
    show.set_defaults(func=cmd_show)

    analyze = sub.add_parser("analyze", help="overlap and oracle tables for results from anywhere")
    analyze.add_argument("sources", nargs="+", help="LABEL=PATH or PATH: a harness report, results.json, "
                                                    "a JSON list of ids, or a CSV with one 0/1 column per run")
    analyze.add_argument("--total", type=int, help="number of instances (e.g. 500), for the 'resolved by none' count")
    analyze.add_argument("--out", help="folder for analysis.md, analysis.json and charts")
    analyze.add_argument("--dataset", help="the results' dataset (a benchmark name, a file or a Hugging Face id): "
                         "results are then broken down by language, and --total defaults to its size")
    analyze.set_defaults(func=cmd_analyze)

    select = sub.add_parser("select", help="pick one patch per instance among candidates (rules and a fitted "
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
    select.add_argument("--out", help="output folder (default RUN/selected/combined, ./selected, or "
                                      "runs/select-<pool> with --evaluate)")
    select.set_defaults(func=cmd_select)

    gold = sub.add_parser("validate-gold", help="score a dataset's gold patches here, to find broken instances")
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

    images = sub.add_parser("images", help="list, pull or remove the images of a pipeline's instances")
    images.add_argument("action", choices=["list", "pull", "prune"])
    images.add_argument("target", metavar="RUN_OR_CONFIG", help="a run folder or a pipeline config file")
    images.add_argument("--runs-dir", default="runs", help="where a config's run folder is (default runs/)")
    images.add_argument("--all", action="store_true",
                        help="prune: also the selection's images that were present before patchmix pulled any")
    images.set_defaults(func=cmd_images)

    replay = sub.add_parser("replay", help="replay recorded trajectories (patchmix's or mini-swe-agent's) without a "
                                           "model and compare the patch (and verdict) with the recorded one")
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

    add_route_parser(sub)

    demo = sub.add_parser("demo", help="the key-free demo: scripted models, three iterations, scoring, report")
    demo.add_argument("--runs-dir", default="runs")
    demo.add_argument("--workers", type=int, help="parallel runs (default: the demo config's)")
    demo.add_argument("--multilingual", action="store_true",
                      help="run on the Go, Rust and JavaScript tasks (demo/multilingual.yaml) instead")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, raise_interrupt)
    # Started from a script as `patchmix run ... &`, the process inherits SIGINT ignored; Ctrl-C must still stop it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return args.func(args)
    except (PatchmixError, ValidationError) as error:
        print(f"patchmix: error: {format_error(error)}", file=sys.stderr)
        return 2
    except InfraError as error:  # the engine failed outside any run (listing or removing leftover containers)
        print(f"patchmix: error: {error}; check that the Docker engine runs (`docker info`), then retry",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("patchmix: interrupted; finished work is saved, rerun the same command to resume", file=sys.stderr)
        if argv is None:  # the command itself: leave now, not after the seconds Python takes to tear litellm down
            exit_now(130)
        return 130
    except OSError as error:
        if not is_storage_error(error):
            raise
        print(f"patchmix: error: {describe_storage_error(error)}", file=sys.stderr)
        return 4


def exit_now(code: int) -> None:
    """Exit at once (files are written atomically or appended whole, and every log handler is closed)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def format_error(error: Exception) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"config key {where}: {first['msg']}"
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
