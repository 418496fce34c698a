"""`patchmix show RUN [INSTANCE] [--iteration K --model M]`: the run in the terminal, with rich.

Without an instance: the table of every candidate. With one: that instance's candidates, then one candidate's
trajectory step by step (model text and reasoning, tool calls, observations, tokens, cost, time), how the run
ended, its diff and its test verdicts, in a pager on a terminal. Text from the run is printed as plain `Text`,
never parsed as rich markup.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from rich.console import Console, Group
from rich.panel import Panel
from rich.rule import Rule
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from harness.analysis.attempts import describe_flags
from harness.analysis.candidates import Candidate, read_candidates, read_dataset_rows
from harness.analysis.runread import read_run
from harness.analysis.tables import format_dollars
from harness.analysis.trajview import get_issue_prompt, get_open_attempts, get_steps, read_trajectory
from harness.durations import format_duration
from harness.exceptions import PatchmixError
from harness.scoring.logs import find_instance_log_dir, read_tests_status

FOLD_LINES = 30
PIPE_WIDTH = 150
WRAPPING = ("repo", "patch", "selected by")
VERDICT_STYLES = {"resolved": "green", "unresolved": "red", "eval_error": "red", "empty_patch": "yellow",
                  "not_evaluated": "yellow"}


def show_run(run_dir: Path, instance: str | None = None, iteration: int | None = None, model: str | None = None,
             console: Console | None = None, full: bool = False, pager: bool | None = None) -> None:
    """Print the candidate table, or an instance's table and one candidate's trajectory."""
    run_dir = Path(run_dir)
    console = console or Console(width=None if sys.stdout.isatty() else PIPE_WIDTH)
    candidates = read_candidates(run_dir, read_run(run_dir))
    if instance is None:
        parts = [make_table(candidates, f"{run_dir.name}: {len(candidates)} candidates"),
                 Text("Read one: patchmix show RUN INSTANCE [--iteration K --model M]", style="dim")]
    else:
        parts = render_instance(run_dir, candidates, instance, iteration, model, full)
    # A table taller than the terminal pages too.
    use_pager = console.is_terminal and (instance is not None or len(candidates) + 6 > console.height) \
        if pager is None else pager
    if use_pager:
        os.environ.setdefault("LESS", "-R")  # less shows colours instead of escape codes
        with console.pager(styles=True):
            console.print(Group(*parts))
    else:
        console.print(Group(*parts))


def render_instance(run_dir: Path, candidates: list[Candidate], instance: str, iteration: int | None,
                    model: str | None, full: bool) -> list:
    """The instance's candidates, then one candidate's trajectory."""
    mine = [c for c in candidates if c.instance_id == instance]
    if not mine:
        known = sorted({c.instance_id for c in candidates})
        raise PatchmixError(f"run {run_dir} has no instance {instance!r}; it has {', '.join(known[:8])}"
                            + (" ..." if len(known) > 8 else ""))
    chosen, why = pick_candidate(mine, iteration, model)
    parts = [make_table(mine, f"{instance} ({mine[0].repo}): {len(mine)} candidates", per_instance=True),
             Text(why, style="dim")]
    return parts + render_trajectory(run_dir, chosen, full)


def pick_candidate(candidates: list[Candidate], iteration: int | None, model: str | None) -> tuple[Candidate, str]:
    """The candidate asked for; without a choice, the last one. Says which and how to pick another."""
    matching = [c for c in candidates if (iteration is None or c.iteration == iteration)
                and (model is None or c.model == model)]
    names = ", ".join(f"--iteration {c.iteration} --model {c.model}" for c in candidates)
    if not matching:
        raise PatchmixError(f"{candidates[0].instance_id} has no candidate with iteration {iteration} and "
                            f"model {model}; it has: {names}")
    if len(matching) > 1 and (iteration is not None or model is not None):
        raise PatchmixError(f"{len(matching)} candidates of {candidates[0].instance_id} match; "
                            f"name one: {names}")
    chosen = matching[-1]
    if iteration is None and model is None and len(candidates) > 1:
        return chosen, f"Showing the last candidate, {chosen.title}; pick another with --iteration K --model M."
    return chosen, f"Showing {chosen.title}."


def make_table(candidates: list[Candidate], title: str, per_instance: bool = False) -> Table:
    """One row per candidate; `per_instance` leaves out the instance and repo columns (the title names them)."""
    table = Table(title=title, title_justify="left", header_style="bold")
    names = ("iter", "model", "exit status", "verdict", "cost", "steps", "time", "patch", "selected by")
    longest = {"instance": max(len(c.instance_id) for c in candidates), "model": max(len(c.model) for c in candidates),
               "exit status": max(len(c.exit_status) for c in candidates),
               "verdict": max(len(c.verdict) for c in candidates)}
    for name in names if per_instance else ("instance", "repo", *names):
        # When the terminal is narrow, the wrapping columns give way; ids and statuses stay whole.
        table.add_column(name, justify="right" if name in ("iter", "cost", "steps", "time") else "left",
                         no_wrap=name not in WRAPPING, min_width=longest.get(name))
    for c in candidates:
        cells = [str(c.iteration), Text(c.model),
                 Text(c.exit_status, style="green" if c.exit_status == "submitted" else "yellow"),
                 Text(c.verdict + (" (flagged)" if c.patch and c.info.get("integrity") else ""),
                      style=VERDICT_STYLES.get(c.verdict, "")), format_dollars(c.get_number("cost")),
                 str(int(c.get_number("steps"))), format_duration(c.get_number("wall_seconds")),
                 Text(str(c.info.get("patch_label") or "none")), Text(", ".join(c.selected_by))]
        table.add_row(*cells if per_instance else (Text(c.instance_id), Text(c.repo), *cells))
    return table


def render_trajectory(run_dir: Path, candidate: Candidate, full: bool) -> list:
    """The renderables of one candidate: issue, steps, how it ended, diff, test verdicts."""
    try:
        traj = read_trajectory(candidate.traj_path) if candidate.traj_path else None
    except PatchmixError as error:
        traj, unreadable = None, str(error)
    else:
        unreadable = ""
    issue = (read_dataset_rows(run_dir).get(candidate.instance_id) or {}).get("problem_statement")
    issue = issue or (get_issue_prompt(traj) if traj else "")
    parts = [Rule(Text(f"{candidate.instance_id} · {candidate.title}", style="bold")),
             Panel(Text(issue.strip() or "(no issue text)"), title="issue", title_align="left")]
    steps = get_steps(traj) if traj else []
    if not steps:
        parts.append(Text(unreadable or "No trajectory steps for this candidate.", style="red" if unreadable else "dim"))
    for step in steps:
        parts += render_step(step, full)
    parts += [Text.assemble(("model call: ", "yellow"), line) for line in get_open_attempts(traj or {})]
    parts += render_end(run_dir, candidate)
    return parts


def render_step(step: dict, full: bool) -> list:
    cost = format_dollars(step["cost"]) if step["cost"] is not None else "–"
    meta = (f"Step {step['number']} · {step['tokens_in'] or 0:,} in / {step['tokens_out'] or 0:,} out tokens · "
            f"{cost} · model {format_seconds(step['model_seconds'])} · tools {format_seconds(step['tool_seconds'])}")
    parts: list = [Rule(Text(meta), align="left", style="cyan")]
    if step.get("compaction"):
        compaction = step["compaction"]
        parts.append(Panel(Text(compaction["summary"]), title=f"compaction: {compaction['reason'][:80]}; "
                           f"{compaction['replaced']} replaced by this summary", title_align="left"))
    if step["reasoning"]:
        parts.append(Text(step["reasoning"].strip(), style="italic dim"))
    if step["text"]:
        parts.append(Text(step["text"].strip()))
    for call in step["calls"]:
        flags = " (malformed)" if call["malformed"] else " (timed out)" if call["timed_out"] else ""
        parts.append(Text.assemble(("▶ " + call["name"], "bold blue"), (flags, "red")))
        parts.append(Text(call["arguments"], style="blue"))
        parts.append(Panel(Text(fold(call["observation"], full)), title="observation", title_align="left",
                           border_style="dim"))
    parts += [Text.assemble(("harness: ", "yellow"), note) for note in step["notes"]]
    parts += [Text.assemble(("model call: ", "yellow"), line) for line in step.get("attempts") or []]
    return parts


def render_end(run_dir: Path, candidate: Candidate) -> list:
    detail = str(candidate.info.get("exit_detail") or "")
    style = "green" if candidate.exit_status == "submitted" else "yellow"
    ended = "Run not finished (under way, or stopped before it could record how)" \
        if candidate.exit_status == "in progress" else f"Run ended: {candidate.exit_status}"
    parts: list = [Rule(Text(ended + (f" — {detail}" if detail else ""), style=style)),
                   Text(f"verdict: {candidate.verdict} · cost {format_dollars(candidate.get_number('cost'))} · "
                        f"{int(candidate.get_number('steps'))} steps · patch "
                        f"{candidate.info.get('patch_label') or 'none'}",
                        style=VERDICT_STYLES.get(candidate.verdict, ""))]
    if candidate.patch and candidate.info.get("integrity"):
        parts.append(Text("Flagged by the integrity scan (the verdict stands): "
                          + "; ".join(describe_flags(candidate.info["integrity"])), style="yellow"))
    if candidate.patch:
        parts += [Rule("diff", align="left"), Syntax(candidate.patch, "diff", theme="ansi_dark", word_wrap=True)]
    else:
        parts.append(Text("No patch: the run changed no file.", style="dim"))
    log_dir = find_instance_log_dir(run_dir, candidate.iteration, candidate.model, candidate.instance_id,
                                    candidate.patch or None)
    status = read_tests_status(log_dir, candidate.instance_id) or {}
    for name, entry in status.items():
        passed, failed = entry.get("success") or [], entry.get("failure") or []
        if passed or failed:
            parts.append(Text(f"{name}: {len(passed)} passed, {len(failed)} failed"
                              + (f" ({', '.join(failed)})" if failed else ""),
                              style="red" if failed else "green"))
    return parts


def fold(text: str, full: bool) -> str:
    lines = text.rstrip("\n").splitlines()
    if full or len(lines) <= FOLD_LINES:
        return "\n".join(lines) or "(no output)"
    head, tail = lines[: FOLD_LINES - 10], lines[-5:]
    cut = len(lines) - len(head) - len(tail)
    return "\n".join([*head, f"... {cut} lines folded (--full shows them) ...", *tail])


def format_seconds(seconds) -> str:
    return f"{seconds:.2f} s" if isinstance(seconds, (int, float)) else "–"
