"""The run browser in a real browser, and `patchmix show` in the terminal, on the demo run.

The demo runs once for the module (scripted models, real containers, the official harness), its patches are
selected, and one trajectory is given hostile text (tags, rich markup, a long observation) before the report:
the pages must show it as text, load nothing but their own files, and still list every candidate and step.
"""

from __future__ import annotations

import json
import struct
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.cli import main
from harness.scoring.logs import RUN_EVALUATION_LOG_DIR
from tests.analysis.analysiskit import Browser

INSTANCE = "patchmix__unitconv-1"
HOSTILE = '<script>window.__pwned = 1</script><img src="http://remote.invalid/x.png" onerror="window.__pwned = 2">'
MARKUP = "[bold red]not markup[/bold red] <b>not bold</b>"
LONG = "\n".join(f"long line {i}" for i in range(60))


class Elements(HTMLParser):
    """Every start tag with its attributes, in document order, and the page's text."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[dict]:
        return [a for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())]


def make_hostile(traj_path: Path) -> None:
    """Tags in an observation and in reasoning, rich markup in the model's text, a long observation."""
    traj = json.loads(traj_path.read_text())
    first, second = traj["steps"][0], traj["steps"][1]
    first["tool_calls"][0]["observation"] += "\n" + HOSTILE
    first["reasoning"] = "thinking </pre>" + HOSTILE
    second["tool_calls"][0]["observation"] = LONG
    assistants = [m for m in traj["messages"] if m["role"] == "assistant"]
    assistants[0]["content"] = MARKUP
    traj_path.write_text(json.dumps(traj))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, bundled_rows) -> Path:
    runs = tmp_path_factory.mktemp("browse")
    assert main(["demo", "--runs-dir", str(runs)]) == 0
    run = runs / "demo"
    assert main(["evaluate", str(run)]) == 0  # scores again what a crashed harness call left unscored, if any
    assert main(["select", str(run)]) == 0
    make_hostile(run / "iter_1" / "fixer" / f"{INSTANCE}.traj.json")
    assert main(["report", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def browser():
    with Browser() as chromium:
        yield chromium


def list_candidates(run: Path) -> set[tuple[str, str, str]]:
    return {(p.name.removesuffix(".traj.json"), p.parent.parent.name.removeprefix("iter_"), p.parent.name)
            for p in run.glob("iter_*/*/*.traj.json")}


def check_local_only(page, elements: Elements) -> None:
    """Every request the page made was for a file of its own; no attribute points off the machine."""
    assert page.requests and all(url.startswith("file://") for url in page.requests), page.requests
    for _, attrs in elements.tags:
        for name in ("src", "href"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(("http:", "https:", "//")), (name, value)


def save_screenshot(page, path: Path) -> None:
    """The screenshot is a real PNG of a full page, not a blank one."""
    path.write_bytes(page.screenshot)
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", page.screenshot[16:24])
    assert width >= 1000 and height >= 1000 and len(page.screenshot) > 50_000
    print(f"screenshot: {path}")


@pytest.mark.docker
def test_index_lists_every_candidate_and_filters_them(demo_run, browser, tmp_path_factory):
    site = demo_run / "report" / "site"
    page = browser.open_page((site / "index.html").as_uri())
    elements = Elements(page.dom)
    rows = elements.find("tr", "cand")
    shown = {(r["data-instance"], r["data-iter"], r["data-model"]) for r in rows}
    expected = list_candidates(demo_run)
    assert shown == expected and len(rows) == len(expected) == 25
    assert not any("hidden" in r for r in rows)
    text = "".join(elements.text)
    assert "Resolved by iteration" in text and "Exit statuses" in text and f"{len(rows)} of {len(rows)} shown" in text
    charts = json.loads((demo_run / "report" / "summary.json").read_text())["charts"]
    assert charts and {a["src"] for a in elements.find("img")} == {f"charts/{name}" for name in charts.values()}
    check_local_only(page, elements)
    save_screenshot(page, tmp_path_factory.getbasetemp() / "index.png")

    filtered = browser.open_page((site / "index.html").as_uri() + "?verdict=resolved&exit=submitted")
    visible = [r for r in Elements(filtered.dom).find("tr", "cand") if "hidden" not in r]
    wanted = [r for r in rows if r["data-verdict"] == "resolved" and r["data-exit"] == "submitted"]
    assert visible and len(visible) == len(wanted) < len(rows)
    assert all(r["data-verdict"] == "resolved" and r["data-exit"] == "submitted" for r in visible)
    by_repo = browser.open_page((site / "index.html").as_uri() + "?repo=patchmix/unitconv&exit=step_limit")
    [only] = [r for r in Elements(by_repo.dom).find("tr", "cand") if "hidden" not in r]
    assert only["data-instance"] == INSTANCE and only["data-model"] == "tripper"
    facts = json.loads((demo_run / "instances.json").read_text())  # recorded by `patchmix run` at start
    assert set(facts) == {r["data-instance"] for r in rows} and {f["language"] for f in facts.values()} == {"python"}
    assert {r["data-language"] for r in rows} == {"python"} and "Resolved by language" in text
    by_language = browser.open_page((site / "index.html").as_uri() + "?language=python&exit=step_limit")
    visible = [r for r in Elements(by_language.dom).find("tr", "cand") if "hidden" not in r]
    assert visible and len(visible) == len([r for r in rows if r["data-exit"] == "step_limit"]) < len(rows)


@pytest.mark.docker
def test_instance_page_shows_diffs_every_step_the_breaker_and_tests(demo_run, browser, tmp_path_factory):
    page_path = demo_run / "report" / "site" / "instances" / f"{INSTANCE}.html"
    page = browser.open_page(page_path.as_uri() + "?candidate=iter1-fixer&compare=iter1-tripper")
    elements = Elements(page.dom)
    text = "".join(elements.text)
    panels = elements.find("article", "panel")
    trajectories = sorted(demo_run.glob(f"iter_*/*/{INSTANCE}.traj.json"))
    assert len(panels) == len(trajectories) == 5
    for path in trajectories:
        key = f"{path.parent.parent.name.replace('_', '')}-{path.parent.name}"
        steps = json.loads(path.read_text())["steps"]
        ids = {a.get("id") for a in elements.find("li", "step")}
        assert {f"{key}-step-{n}" for n in range(1, len(steps) + 1)} <= ids, key
        assert f"{key}-step-{len(steps) + 1}" not in ids
    assert [p["data-key"] for p in panels if "hidden" not in p] == ["iter1-fixer"]
    # ?compare= puts tripper's diff beside the diff of each of the 4 other candidates
    other_columns = [a for a in elements.find("div", "other") if "hidden" not in a]
    assert len(other_columns) == 4 and len(elements.find("table", "diff")) == 5 + 4
    assert elements.find("tr", "d-add") and "(value - 32) * 5 / 9" in text
    assert "Run ended: step_limit" in text and "8 model calls reached the step limit" in text
    assert ">>>>> Start Test Output" in text and "FAIL_TO_PASS" in text
    assert "Converting from Fahrenheit gives absurd temperatures" in text  # the issue
    assert "long line 59" in text and elements.find("details", "obs")  # folded, still there
    assert HOSTILE in text and MARKUP in text  # shown as text...
    assert len(elements.find("script")) == 1 and not elements.find("img") and not elements.find("b")  # ...not run
    check_local_only(page, elements)
    save_screenshot(page, tmp_path_factory.getbasetemp() / "instance.png")


@pytest.mark.docker
def test_show_prints_the_candidate_table(demo_run, capsys):
    assert main(["show", str(demo_run)]) == 0
    out = capsys.readouterr().out
    assert "demo: 25 candidates" in out
    for instance, _, model in list_candidates(demo_run):
        assert instance in out and model in out
    assert "step_limit" in out and "resolved" in out and "unresolved" in out


@pytest.mark.docker
def test_show_pages_through_a_trajectory_with_the_diff_at_the_end(demo_run, capsys):
    assert main(["show", str(demo_run), INSTANCE, "--iteration", "1", "--model", "fixer", "--no-pager"]) == 0
    out = capsys.readouterr().out
    steps = json.loads((demo_run / "iter_1" / "fixer" / f"{INSTANCE}.traj.json").read_text())["steps"]
    positions = [out.index(f"Step {n} ·") for n in range(1, len(steps) + 1)]
    assert positions == sorted(positions) and f"Step {len(steps) + 1} ·" not in out
    assert MARKUP in out and "window.__pwned" in out  # printed as text, not as rich markup
    assert "lines folded (--full shows them)" in out and "long line 0" in out and "long line 30" not in out
    end = out.index("Run ended: submitted")
    assert end > positions[-1] and out.index("+        return (value - 32) * 5 / 9") > end
    assert "FAIL_TO_PASS: 2 passed, 0 failed" in out

    assert main(["show", str(demo_run), INSTANCE, "--model", "tripper", "--no-pager", "--full"]) == 0
    out = capsys.readouterr().out
    assert "Showing iteration 1 / tripper." in out and "Step 8 ·" in out and "Run ended: step_limit" in out


@pytest.mark.docker
def test_show_names_what_exists_when_asked_for_what_does_not(demo_run, capsys):
    assert main(["show", str(demo_run), "nope-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no instance 'nope-1'" in err and INSTANCE in err and "\n" not in err
    assert main(["show", str(demo_run), INSTANCE, "--iteration", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--iteration 1 --model tripper" in err and "\n" not in err


def test_log_folder_is_the_harness_own():
    from swebench.harness.constants import RUN_EVALUATION_LOG_DIR as HARNESS_DIR

    assert RUN_EVALUATION_LOG_DIR == str(HARNESS_DIR)
