"""Writing the run browser: `report/site/index.html` (the report's tables and charts, and a filterable table of
every candidate), one page per instance under `instances/`, and the assets they use, all written by patchmix.

Nothing on a page points outside the site folder: styles, scripts and charts are files beside the pages, so
the site opens from disk (file://) and loads no remote resource.
"""

from __future__ import annotations

import json
import os
import shutil
from importlib import resources
from pathlib import Path

from harness.analysis.candidates import group_by_instance, read_candidates, read_dataset_rows, read_selection
from harness.analysis.runread import read_run
from harness.analysis.site.diffhtml import get_pygments_css
from harness.analysis.site.markdown import render_markdown
from harness.analysis.site.pages import (get_page_name, make_environment, make_index_context,
                                         make_instance_context, render_page)
from harness.secrets import redact

ASSETS = ("style.css", "site.js")


def write_site(run_dir: Path) -> Path:
    """Write the site from the run folder and its report (summary.md, summary.json, charts); return index.html."""
    run_dir = Path(run_dir)
    report_dir, site = run_dir / "report", run_dir / "report" / "site"
    summary = json.loads((report_dir / "summary.json").read_text(encoding="utf-8"))
    candidates = read_candidates(run_dir, read_run(run_dir))
    write_assets(site)
    copy_charts(report_dir, site / "charts")
    env = make_environment()
    summary_md = drop_title((report_dir / "summary.md").read_text(encoding="utf-8"))
    index = make_index_context(run_dir.name, summary, render_markdown(summary_md), candidates)
    write_page(site / "index.html", render_page(env, "index.html.j2", index))
    write_instance_pages(run_dir, site, env, candidates)
    return site / "index.html"


def write_instance_pages(run_dir: Path, site: Path, env, candidates) -> None:
    rows, picks = read_dataset_rows(run_dir), read_selection(run_dir)
    for instance_id, group in group_by_instance(candidates).items():
        issue = (rows.get(instance_id) or {}).get("problem_statement")
        chosen = {name: patches[instance_id] for name, patches in picks.items() if instance_id in patches}
        context = make_instance_context(run_dir, run_dir.name, instance_id, group, issue, chosen)
        write_page(site / "instances" / get_page_name(instance_id),
                          render_page(env, "instance.html.j2", context))


def write_assets(site: Path) -> None:
    folder = resources.files("harness.analysis.site") / "assets"
    for name in ASSETS:
        write_page(site / "assets" / name, (folder / name).read_text(encoding="utf-8"))
    write_page(site / "assets" / "code.css", get_pygments_css() + "\n")


def copy_charts(report_dir: Path, charts_dir: Path) -> None:
    charts_dir.mkdir(parents=True, exist_ok=True)
    for chart in report_dir.glob("*.png"):
        shutil.copyfile(chart, charts_dir / chart.name)


def write_page(path: Path, text: str) -> None:
    """Write one file of the site, secrets masked: a temporary file renamed over `path`, without the fsync
    that run results get (the site is rebuilt from them at will, and has hundreds of pages)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(redact(text), encoding="utf-8")
    os.replace(tmp, path)


def drop_title(markdown: str) -> str:
    """The report without its first-level title (the page has its own)."""
    lines = markdown.splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines)
