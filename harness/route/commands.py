"""`patchmix route fit|apply|pick|evaluate`: argument parsing and printing; the work is in the modules beside."""

from __future__ import annotations

from pathlib import Path

from harness.exceptions import ConfigError
from harness.fileio import write_json_atomic

# The route modules (numpy, sklearn, litellm; torch for the embedding model) load when a route command runs, not
# with the CLI: each handler imports what it uses.
KS, SHRINK, SEEDS, FOLDS, LOCAL = (8, 16, 32), 50.0, 5, 5, "local"


def add_parser(subparsers) -> None:
    route = subparsers.add_parser("route", help="issues to models: fit a profile, route instances, pick a model set")
    verbs = route.add_subparsers(dest="route_command", required=True)
    fit = verbs.add_parser("fit", help="fit a routing profile on scored results and the dataset's issue texts")
    add_inputs(fit)
    fit.add_argument("--out", required=True, help="the profile file to write (JSON)")
    fit.add_argument("--k", type=int, nargs="+", default=list(KS), help="cluster counts to try (inner held-out)")
    fit.add_argument("--shrink", type=float, default=SHRINK, help="pseudo-count pulling a cluster's rates to overall")
    fit.set_defaults(func=cmd_fit)
    use = verbs.add_parser("apply", help="the top-n models per instance of a dataset, into a routing file")
    use.add_argument("--profile", required=True)
    use.add_argument("--dataset", required=True, help=".json/.jsonl with instance_id, repo, problem_statement")
    use.add_argument("--ids", nargs="+", help="only these instances")
    use.add_argument("--top", type=int, default=2)
    use.add_argument("--label", nargs="+", default=[], metavar="NAME=LABEL", help="profile model name -> pipeline label")
    use.add_argument("--out", required=True, help="the routing file to write (JSON), for a pipeline's `route: {file}`")
    use.add_argument("--cache", help="embedding cache folder")
    use.set_defaults(func=cmd_apply)
    choose = verbs.add_parser("pick", help="the K-model set for iteration 1, by rank score and by coverage")
    add_inputs(choose)
    choose.add_argument("--models", type=int, required=True, help="K, the size of the set")
    choose.add_argument("--profile", help="a fitted profile (its clusters give the rank score); else fit one")
    choose.set_defaults(func=cmd_pick)
    evaluate = verbs.add_parser("evaluate", help="held-out figures (k-fold over instances, several seeds) and a PNG")
    add_inputs(evaluate)
    evaluate.add_argument("--out", required=True, help="folder for heldout.json and heldout.png")
    evaluate.add_argument("--seeds", type=int, default=SEEDS)
    evaluate.add_argument("--folds", type=int, default=FOLDS)
    evaluate.set_defaults(func=cmd_evaluate)


def add_inputs(parser) -> None:
    parser.add_argument("--results", nargs="+", required=True, metavar="[LABEL=]PATH",
                        help="scored results: a 0/1 CSV matrix, harness reports, or run folders")
    parser.add_argument("--dataset", required=True, help=".json/.jsonl with instance_id, repo, problem_statement")
    parser.add_argument("--embedder", default=LOCAL, help="`local` (all-MiniLM-L6-v2, offline) or litellm:<model>")
    parser.add_argument("--cache", help="embedding cache folder (default ~/.cache/patchmix/embeddings)")


def cmd_fit(args) -> int:
    from harness.route import data, profile as prof, store  # lazy: command
    results, vectors = data.load_inputs(args.results, Path(args.dataset), args.embedder,
                                        args.cache and Path(args.cache))
    fitted = prof.fit(vectors, results.matrix, results.models, results.ids, args.embedder, args.k, args.shrink)
    store.save_profile(fitted, Path(args.out))
    scores = ", ".join(f"K={k}: {v:.3f}" for k, v in fitted.k_scores.items())
    print(f"profile: {len(results.ids)} instances, {len(results.models)} models, K={len(fitted.centroids)} "
          f"(inner held-out top-1 rate {scores}) -> {args.out}")
    return 0


def cmd_apply(args) -> int:
    from harness.route import apply, data, store  # lazy: command
    fitted = store.load_profile(Path(args.profile))
    issues = data.read_issues(Path(args.dataset))
    missing = [i for i in args.ids or [] if i not in issues]
    if missing:
        raise ConfigError(f"--ids: {missing[0]} is not in {args.dataset}; pass ids of that dataset")
    chosen = [issues[i] for i in args.ids] if args.ids else list(issues.values())
    routing = apply.route_issues(fitted, chosen, args.top, args.cache and Path(args.cache), apply.parse_labels(args.label))
    apply.write_routing(routing, Path(args.out))
    runs = len(chosen) * args.top
    print(f"routed {len(chosen)} instances to {args.top} of {len(fitted.models)} models each: {runs} runs instead of "
          f"{len(chosen) * len(fitted.models)} -> {args.out}")
    return 0


def cmd_pick(args) -> int:
    from harness.route import data, heldout, pick, profile as prof, store  # lazy: command
    results, vectors = data.load_inputs(args.results, Path(args.dataset), args.embedder,
                                        args.cache and Path(args.cache))
    if not 1 <= args.models <= len(results.models):
        raise ConfigError(f"--models {args.models}: give a number from 1 to {len(results.models)}")
    fitted = store.load_profile(Path(args.profile)) if args.profile else prof.fit(
        vectors, results.matrix, results.models, results.ids, args.embedder)
    figures = heldout.evaluate_pick(vectors, results.matrix, args.models, len(fitted.centroids))
    rows = [("rank score (seed 003)", pick.pick_by_rank(fitted, args.models)),
            ("coverage", pick.pick_by_coverage(fitted.results, args.models))]
    print(f"{args.models}-model sets from {len(results.models)} ({len(results.ids)} instances, K={len(fitted.centroids)}):")
    for name, chosen in rows:
        print(f"  {name}: {', '.join(fitted.models[m] for m in chosen)}; oracle on fitted data "
              f"{pick.oracle(fitted.results, chosen)}")
    print(heldout.render_pick(figures))
    return 0


def cmd_evaluate(args) -> int:
    from harness.route import data, heldout  # lazy: command
    results, vectors = data.load_inputs(args.results, Path(args.dataset), args.embedder,
                                        args.cache and Path(args.cache))
    found = heldout.evaluate(vectors, results.matrix, seeds=tuple(range(args.seeds)), folds=args.folds)
    out = Path(args.out)
    write_json_atomic(out / "heldout.json", {"summary": found.summary(), "per_seed": found.figures,
                                             "models": results.models, "folds": args.folds, "seeds": args.seeds})
    heldout.write_chart(found, out / "heldout.png")
    print(heldout.render(found))
    return 0
