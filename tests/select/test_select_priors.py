"""Stated priors (`select.priors`, `patchmix select --priors FILE`): a selector fitted on other systems picks among
systems it has no verdict of by their stated resolve rates, and says in one line when it knows nothing of them."""

from __future__ import annotations

import csv
import gzip
import json
from dataclasses import replace
from pathlib import Path

import pytest
from tests.pipeline.pipelinekit import make_config, write_config
from tests.select.selectkit import write_run

from harness.exceptions import ConfigError, PatchmixError
from harness.fileio import read_jsonl
from harness.pipeline.load import load_pipeline_config
from harness.select.crossfit import fallback
from harness.select.picks import run_selection
from harness.select.pool import Candidate
from harness.select.priors import fit_reliability
from harness.select.selector import fit_selector, make_views, pick
from harness.select.stage import run_select_stage
from harness.select.stated import ANCHOR, FALLBACK_RULE, apply_priors, find_prior, read_priors, use_priors

CANDIDATES = Path("/work/shared/data/candidates-2024")
INSTANCES = [f"own__repo-{n}" for n in range(4)]


def make_patch(value: str) -> str:
    return f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-y = 0\n+y = {value}\n"


def write_fit_pool(path: Path) -> None:
    """Scored candidates of systems other than the run's: `good` resolves every instance, `poor` a quarter."""
    rows = [{"instance_id": f"other__repo-{n}", "system": system, "model_patch": make_patch(f"{system}{n}"),
             "resolved": system == "good" or n % 4 == 0} for n in range(16) for system in ("good", "poor")]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def write_unscored_run(run: Path) -> None:
    """A run folder of two models (fixer, breaker) on four instances, each with its own change, not evaluated."""
    write_run(run, [(1, model, instance, make_patch(f"{model}{n}"), "submitted")
                    for model in ("fixer", "breaker") for n, instance in enumerate(INSTANCES)], {})


def chosen_models(out: Path) -> set[str]:
    return {json.loads(line)["chosen"] for line in (out / "reasons.jsonl").read_text().splitlines()}


@pytest.mark.parametrize("priors, expected", [({"fixer": 0.6, "breaker": 0.2}, "iter_1/fixer"),
                                              ({"fixer": 0.2, "breaker": 0.6}, "iter_1/breaker")])
def test_stated_priors_make_the_stated_best_models_changes_the_picks(tmp_path, priors, expected):
    write_fit_pool(tmp_path / "pool.jsonl")
    write_unscored_run(tmp_path / "run")
    said = run_selection([str(tmp_path / "run")], tmp_path / "out", [str(tmp_path / "pool.jsonl")], None, None,
                         priors=priors)
    assert chosen_models(tmp_path / "out") == {expected}
    assert "no better than its fallback rule" not in said
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["priors"] == 2 and "unknown_systems" not in summary
    saved = json.loads((tmp_path / "out" / "selector.json").read_text())
    assert saved["anchor"] == pytest.approx(ANCHOR) and saved["systems"][0] == expected


def test_with_neither_history_nor_priors_the_selection_says_its_picks_are_its_fallback_rules(tmp_path):
    write_fit_pool(tmp_path / "pool.jsonl")
    write_unscored_run(tmp_path / "run")
    said = run_selection([str(tmp_path / "run")], tmp_path / "out", [str(tmp_path / "pool.jsonl")], None, None)
    [line] = [line for line in said.splitlines() if "fallback rule" in line]
    assert line.startswith("none of the 2 systems picked among has scored history or a stated prior") and \
        f"no better than its fallback rule ({FALLBACK_RULE})" in line
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["unknown_systems"] == line
    assert chosen_models(tmp_path / "out") == {"iter_1/breaker"}, "the first system by name that made a change"


def test_the_line_is_not_said_when_the_systems_have_history_or_one_has_a_prior(tmp_path):
    write_fit_pool(tmp_path / "pool.jsonl")
    write_unscored_run(tmp_path / "run")
    said = run_selection([str(tmp_path / "pool.jsonl")], tmp_path / "in-sample", None, None, None)
    assert "fallback rule" not in said
    assert "unknown_systems" not in (tmp_path / "in-sample" / "summary.json").read_text()
    said = run_selection([str(tmp_path / "run")], tmp_path / "one", [str(tmp_path / "pool.jsonl")], None, None,
                         priors={"fixer": 0.9})  # above the fitting pool's rate, which the breaker keeps
    assert "fallback rule" not in said and chosen_models(tmp_path / "one") == {"iter_1/fixer"}


def test_a_prior_names_a_system_exactly_or_its_model_label_and_takes_the_place_of_the_pools_rate():
    priors = {"fixer": 0.6, "iter_2/fixer": 0.1}
    assert find_prior(priors, "iter_1/fixer") == 0.6 and find_prior(priors, "label:iter_3/fixer") == 0.6
    assert find_prior(priors, "iter_2/fixer") == 0.1 and find_prior(priors, "iter_1/breaker") is None
    scored = [Candidate(f"a__b-{n}", "seen", "p", n < 5) for n in range(10)]
    reliability = fit_reliability(scored)
    stated = apply_priors(reliability, {"seen": 0.9, "unseen": 0.7}, ["seen", "unseen", "other"])
    assert stated.get("unseen") == 0.7 and stated.get("other") == reliability.base
    assert stated.get("seen") == pytest.approx((5 + 5 * 0.9) / (10 + 5)), "its verdicts, shrunk to the stated rate"
    assert reliability.get("seen") == pytest.approx((5 + 5 * reliability.base) / 15), "the fitted one is unchanged"


def test_without_priors_the_selector_is_left_as_it_was(tmp_path):
    write_fit_pool(tmp_path / "pool.jsonl")
    from harness.select.pool import load_pool

    views = make_views(load_pool([str(tmp_path / "pool.jsonl")]))
    selector = fit_selector(views, sorted(views))
    before = (dict(selector.reliability.systems), list(selector.systems), selector.anchor)
    assert use_priors(selector, None, ["good", "poor"]) == ""
    assert (dict(selector.reliability.systems), list(selector.systems), selector.anchor) == before == (
        before[0], ["good", "poor"], 0.0)


@pytest.mark.parametrize("text, expected", [
    ("fixer: 62\n", "fixer: Input should be less than or equal to 1"),
    ("fixer: [0.6\n", "is not valid YAML or JSON"),
    ("- fixer\n", "the file: Input should be a valid dictionary"),
    ('{"fixer": "high"}', "fixer: Input should be a valid number"),
])
def test_a_bad_priors_file_gives_one_line_saying_what_to_fix(tmp_path, text, expected):
    (tmp_path / "priors.yaml").write_text(text)
    with pytest.raises(PatchmixError) as error:
        read_priors(tmp_path / "priors.yaml")
    message = str(error.value)
    assert message.startswith("--priors: ") and expected in message and "\n" not in message
    assert "a share between 0 and 1" in message
    path = write_config(tmp_path / "pipeline.yaml", make_config("http://127.0.0.1:9/v1", select={
        "fit_on": ["pool.jsonl"], "priors": "priors.yaml"}))
    (tmp_path / "pool.jsonl").write_text("")
    with pytest.raises(ConfigError) as error:
        load_pipeline_config(path)
    assert str(error.value).startswith("config key select.priors: ") and expected in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("select, expected", [
    ({"fit_on": ["pool.jsonl"], "priors": {"fixer": 62}}, "config key select.priors: Value error, the prior of "
                                                          "'fixer' is 62; give a share between 0 and 1"),
    ({"priors": {"fixer": 0.5}}, "config key select.priors: the priors weigh the fitted selector's systems"),
    ({"fit_on": ["pool.jsonl"], "priors": "nowhere.yaml"}, "config key select.priors: nowhere.yaml does not exist"),
])
def test_a_bad_select_priors_key_is_refused_at_start(tmp_path, select, expected):
    (tmp_path / "pool.jsonl").write_text("")
    path = write_config(tmp_path / "pipeline.yaml", make_config("http://127.0.0.1:9/v1", select=select))
    with pytest.raises(ConfigError) as error:
        load_pipeline_config(path)
    message = str(error.value).removeprefix(f"{path}: ")
    assert message.startswith(expected) and "\n" not in message


def test_the_select_stage_takes_its_priors_from_the_config_file(tmp_path):
    write_fit_pool(tmp_path / "pool.jsonl")
    (tmp_path / "priors.yaml").write_text("fixer: 0.2\nbreaker: 0.6\n")
    config = load_pipeline_config(write_config(tmp_path / "pipeline.yaml", make_config(
        "http://127.0.0.1:9/v1", name="stated", select={"fit_on": ["pool.jsonl"], "priors": "priors.yaml"})))
    assert config.select.priors == {"fixer": 0.2, "breaker": 0.6}
    run = tmp_path / "runs" / "stated"
    write_unscored_run(run)
    said = run_select_stage(run, config)
    assert "fallback rule" not in said and chosen_models(run / "selected" / "combined") == {"iter_1/breaker"}
    assert len(read_jsonl(run / "selected" / "combined" / "preds.jsonl")) == len(INSTANCES)


@pytest.mark.skipif(not (CANDIDATES / "candidates.jsonl.gz").is_file(), reason="needs ../shared/data")
def test_on_real_candidates_the_stated_priors_do_at_least_as_well_as_the_best_new_system():
    """Fitted on five systems of early 2024 (with verdicts), applied to four of December 2024 (without): with
    their published rates the picks resolve at least as many of 60 instances as the best of the four; without,
    the selection says its picks are its fallback rule's."""
    with open(CANDIDATES / "systems.csv", newline="") as handle:
        published = {row["system"]: int(row["n_resolved"]) / 500 for row in csv.DictReader(handle)}
    old = ["20240612_MASAI_gpt4o", "20240617_factory_code_droid", "20240628_autocoderover-v20240620",
           "20240721_amazon-q-developer-agent-20240719-dev", "20240820_epam-ai-run-gpt-4o"]
    new = ["20241221_codestory_midwit_claude-3-5-sonnet_swe-search", "20241213_devlo", "20241208_gru",
           "20241212_epam-ai-run-claude-3-5-sonnet"]
    with gzip.open(CANDIDATES / "candidates.jsonl.gz", "rt") as handle:
        rows = [json.loads(line) for line in handle]
    ids = sorted({row["instance_id"] for row in rows})[::8][:60]
    wanted = set(ids)
    pool = [Candidate(r["instance_id"], r["system"], r["model_patch"] or "", bool(r["resolved"])) for r in rows
            if r["instance_id"] in wanted and r["system"] in old + new]
    views = make_views(pool)
    selector = fit_selector({i: v.restrict(old) for i, v in views.items()}, ids)
    bare = replace(selector)
    applied = {i: v.restrict(new) for i, v in views.items()}
    best_single = max(sum(bool(c.resolved) for v in applied.values() for c in v.candidates if c.system == s)
                      for s in new)
    assert "no better than its fallback rule" in use_priors(bare, None, sorted(new))
    assert use_priors(selector, {s: published[s] for s in new}, sorted(new)) == ""
    picked = sum(bool(pick(selector, applied[i], i).chosen.resolved) for i in ids)
    assert picked >= best_single
    assert picked >= sum(fallback(applied[i].restrict(selector.systems), selector.reliability) for i in ids) - 1


def test_patchmix_select_takes_priors_from_a_file_and_refuses_a_bad_one_before_picking(tmp_path, capsys):
    from harness.cli import main

    write_fit_pool(tmp_path / "pool.jsonl")
    write_unscored_run(tmp_path / "run")
    (tmp_path / "priors.json").write_text('{"fixer": 0.2, "breaker": 0.6}')
    (tmp_path / "bad.yaml").write_text("fixer: 62\n")
    args = ["select", str(tmp_path / "run"), "--fit-on", str(tmp_path / "pool.jsonl")]
    assert main(args + ["--priors", str(tmp_path / "bad.yaml")]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.count("\n") == 1 and "fixer: Input should be less than" in printed.err
    assert main(args + ["--priors", str(tmp_path / "priors.json")]) == 0
    assert "fallback rule" not in capsys.readouterr().out
    assert chosen_models(tmp_path / "run" / "selected" / "combined") == {"iter_1/breaker"}
