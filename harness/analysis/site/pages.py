"""What each page of the run browser shows, as template contexts, and the templates that render them.

Templates (`templates/*.html.j2`) are rendered by jinja2 with autoescaping on: every string from the run
(issue text, model text, tool calls, observations, test output) is escaped; only the diff tables, which
`diffhtml` builds from escaped parts, and the report's HTML, which `markdown` builds the same way, are marked
safe.
"""

from __future__ import annotations

import re
from pathlib import Path

import jinja2
from markupsafe import Markup

from harness.analysis.candidates import Candidate
from harness.analysis.attempts import describe_flags
from harness.analysis.site.diffhtml import count_changes, render_diff
from harness.analysis.tables import format_dollars
from harness.analysis.trajview import get_issue_prompt, get_open_attempts, get_preview, get_steps, read_trajectory
from harness.durations import format_duration
from harness.exceptions import PatchmixError
from harness.scoring.logs import find_instance_log_dir, read_test_output, read_tests_status

UNSAFE_IN_FILE = re.compile(r"[^A-Za-z0-9_.-]+")
TEST_GROUPS = ("FAIL_TO_PASS", "PASS_TO_PASS", "FAIL_TO_FAIL", "PASS_TO_FAIL")


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("harness.analysis.site", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters |= {"dollars": format_dollars, "duration": format_seconds, "preview": get_preview,
                    "number": format_number}
    return env


def get_page_name(instance_id: str) -> str:
    """The file of an instance's page inside `instances/`."""
    return (UNSAFE_IN_FILE.sub("_", instance_id).strip("._") or "instance") + ".html"


def format_seconds(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return "–"
    if seconds < 1:
        return f"{seconds:.2f} s"
    return f"{seconds:.1f} s" if seconds < 60 else format_duration(seconds)


def format_number(value) -> str:
    return f"{int(value):,}" if isinstance(value, (int, float)) else "–"


def describe_candidate(candidate: Candidate) -> dict:
    """The facts of a candidate shown in tables: every value a string or number ready to print."""
    info = candidate.info
    return {
        "key": candidate.key, "title": candidate.title, "instance_id": candidate.instance_id,
        "page": get_page_name(candidate.instance_id), "repo": candidate.repo, "language": candidate.language,
        "iteration": candidate.iteration,
        "model": candidate.model, "exit_status": candidate.exit_status, "verdict": candidate.verdict,
        "cost": candidate.get_number("cost"), "steps": int(candidate.get_number("steps")),
        "tokens_in": candidate.get_number("tokens_in"), "tokens_out": candidate.get_number("tokens_out"),
        "seconds": candidate.get_number("wall_seconds"), "patch_label": str(info.get("patch_label") or "none"),
        "selected_by": candidate.selected_by, "integrity": describe_flags(info.get("integrity") or [])
        if candidate.patch else [],
    }


def make_index_context(run_id: str, summary: dict, summary_html: str, candidates: list[Candidate]) -> dict:
    rows = [describe_candidate(c) for c in candidates]
    return {
        "run_id": run_id, "summary": summary, "summary_html": Markup(summary_html), "rows": rows,
        "repos": sorted({r["repo"] for r in rows}), "languages": sorted({r["language"] for r in rows}),
        "verdicts": sorted({r["verdict"] for r in rows}),
        "exit_statuses": sorted({r["exit_status"] for r in rows}), "models": sorted({r["model"] for r in rows}),
        "instances": len({r["instance_id"] for r in rows}), "selection": any(r["selected_by"] for r in rows),
        "total_cost": sum(r["cost"] for r in rows),
    }


def make_instance_context(run_dir: Path, run_id: str, instance_id: str, candidates: list[Candidate],
                          issue: str | None, picks: dict[str, str]) -> dict:
    views = [describe_run(run_dir, c) for c in candidates]
    if issue is None:
        issue = next((v["prompt"] for v in views if v["prompt"]), "")
        issue_source = "the prompt the model was given (the run's dataset is not a local file)"
    else:
        issue_source = "the dataset's problem statement"
    return {
        "run_id": run_id, "instance_id": instance_id, "repo": candidates[0].repo, "candidates": views,
        "issue": issue, "issue_source": issue_source, "selection": describe_selection(picks, candidates),
    }


def describe_run(run_dir: Path, candidate: Candidate) -> dict:
    """Everything the instance page shows of one candidate: facts, diff, steps, how it ended, its tests."""
    view = describe_candidate(candidate)
    traj, traj_error = read_trajectory_or_error(candidate.traj_path)
    log_dir = find_instance_log_dir(run_dir, candidate.iteration, candidate.model, candidate.instance_id,
                                    candidate.patch or None)
    files, added, removed = count_changes(candidate.patch)
    status = read_tests_status(log_dir, candidate.instance_id)
    return view | {
        "exit_detail": str(candidate.info.get("exit_detail") or ""),
        "patch_dropped": [str(item) for item in candidate.info.get("patch_dropped") or []],
        "diff_html": Markup(render_diff(candidate.patch)), "changes": {"files": files, "added": added,
                                                                        "removed": removed},
        "trajectory": get_steps(traj) if traj else [], "prompt": get_issue_prompt(traj) if traj else "",
        "open_attempts": get_open_attempts(traj) if traj else [],
        "has_trajectory": traj is not None, "trajectory_error": traj_error,
        "error": str(candidate.info.get("error") or ""),
        "test_output": read_test_output(log_dir), "tests": summarise_tests(status),
    }


def read_trajectory_or_error(path: Path | None) -> tuple[dict | None, str]:
    """The trajectory, or None and why not (no file; a file that cannot be read)."""
    if path is None:
        return None, "No trajectory file for this candidate."
    try:
        return read_trajectory(path), ""
    except PatchmixError as error:
        return None, str(error)


def summarise_tests(status: dict | None) -> list[dict]:
    """The harness's grading per group of tests: which passed and which failed."""
    if not status:
        return []
    groups = []
    for name in TEST_GROUPS:
        entry = status.get(name) or {}
        passed, failed = list(entry.get("success") or []), list(entry.get("failure") or [])
        if passed or failed:
            groups.append({"name": name, "passed": passed, "failed": failed})
    return groups


def describe_selection(picks: dict[str, str], candidates: list[Candidate]) -> list[dict]:
    """strategy -> the candidate whose patch it picked (or the patch itself when it matches none)."""
    rows = []
    for strategy, patch in picks.items():
        match = next((c for c in reversed(candidates) if c.patch and c.patch == patch), None)
        rows.append({"strategy": strategy, "candidate": match.title if match else None,
                     "key": match.key if match else None,
                     "diff_html": Markup(render_diff(patch)) if match is None else Markup("")})
    return rows


def render_page(env: jinja2.Environment, template: str, context: dict) -> str:
    return env.get_template(template).render(**context)
