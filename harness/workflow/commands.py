"""`patchmix run` and `patchmix evaluate`: argument parsing; the chains of stages are in `chains.py`."""

from __future__ import annotations

from pathlib import Path

from harness.scoring.commands import add_containers_flag, get_containers


def add_parser(subparsers) -> None:
    """`run` and `evaluate` (the CLI lists them among the other stages' commands)."""
    run = subparsers.add_parser("run", help="run a pipeline config's iterations (resumes where it stopped)")
    run.add_argument("config", help="the pipeline YAML")
    run.add_argument("--iteration", type=int, help="run only this iteration (1-based)")
    run.add_argument("--workers", type=int, help="parallel runs (overrides the config)")
    run.add_argument("--runs-dir", default="runs", help="where run folders go")
    run.add_argument("--executor", choices=["local", "ray"],
                     help="where runs execute (overrides the config's executor.kind); ray: see the README")
    run.set_defaults(func=cmd_run)

    evaluate = subparsers.add_parser("evaluate", help="score every predictions file of a run with the official "
                                                      "harness")
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


def cmd_run(args) -> int:
    from harness.workflow.chains import run_then_select  # lazy: command
    return run_then_select(Path(args.config), runs_dir=Path(args.runs_dir), iteration=args.iteration,
                           workers=args.workers, executor=args.executor)


def cmd_evaluate(args) -> int:
    from harness.workflow.chains import evaluate_then_refresh  # lazy: command
    evaluate_then_refresh(Path(args.run), workers=args.workers, repeat=args.repeat, timeout=args.timeout,
                          max_retries=args.max_retries, executor=args.executor, address=args.address,
                          containers=get_containers(args))
    return 0
