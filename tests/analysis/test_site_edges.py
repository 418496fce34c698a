"""The run browser on what a real run folder can hold: runs under way, unreadable trajectories, no evaluation,
odd instance ids. Built from a run folder on disk (the page itself is checked in a browser in test_browse)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

from harness.analysis.report import write_report
from harness.analysis.site import write_site
from harness.analysis.site.pages import get_page_name
from tests.analysis.analysiskit import write_cell

IDS = ["owner__repo-1", "owner__repo-2"]


class Text(HTMLParser):
    def __init__(self, html: str):
        super().__init__()
        self.parts: list[str] = []
        self.scripts = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"

    def handle_data(self, data):
        self.parts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.parts)


def make_run(tmp_path: Path) -> Path:
    run_dir = tmp_path / "runs" / "edges"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text("iterations: []\n")
    write_cell(run_dir, 1, "a", IDS, {"owner__repo-1"})
    write_report(run_dir)
    return run_dir


def test_runs_under_way_and_unreadable_trajectories_get_a_page(tmp_path):
    run_dir = make_run(tmp_path)
    folder = run_dir / "iter_1" / "b"
    folder.mkdir()
    header = {"instance_id": IDS[0], "messages": [{"role": "system", "content": "s"}, {"role": "user", "content":
              "the <issue>"}], "steps": [], "info": {"exit_status": None}, "in_progress": True}
    (folder / f"{IDS[0]}.traj.json").write_text(json.dumps(header))
    (folder / f"{IDS[0]}.traj.steps.jsonl").write_text(
        json.dumps({"message": {"role": "assistant", "content": "looking </pre><b>x</b>"}}) + "\n"
        + json.dumps({"step": {"step": 1, "tokens_in": 5, "tokens_out": 1, "cost": 0.1, "tool_calls": []}}) + "\n"
        + '{"message": {"role": "tool", "cont')  # torn by a kill
    (folder / f"{IDS[1]}.traj.json").write_text("{not json")
    write_site(run_dir)
    html = (run_dir / "report" / "site" / "instances" / get_page_name(IDS[0])).read_text()
    page = Text(html)
    assert "Run not finished" in page.text and "looking </pre><b>x</b>" in page.text and "the <issue>" in page.text
    assert 'id="iter1-b-step-1"' in html and 'id="iter1-b-step-2"' not in html and page.scripts == 1
    other = Text((run_dir / "report" / "site" / "instances" / get_page_name(IDS[1])).read_text())
    assert "Run ended: unreadable" in other.text and "cannot read trajectory" in other.text
    index = Text((run_dir / "report" / "site" / "index.html").read_text())
    assert index.scripts == 1 and "4 of 4 shown" in index.text
    assert "not_evaluated" in index.text  # iteration 1 / b has no evaluation report


def test_page_names_stay_inside_the_site():
    assert get_page_name("../../etc/passwd") == "etc_passwd.html"
    assert get_page_name("django__django-11099") == "django__django-11099.html"
    assert get_page_name("a/b c") == "a_b_c.html"
