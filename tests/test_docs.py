"""The documentation cannot drift from the code: the config reference is what scripts/write_config_reference.py
writes from the config models' field docstrings, every relative link of the README and docs/ reaches a file (and
a heading there, when it names one), and every test file, module and script they cite exists."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from pydantic import Field

from harness.agent.config import Strict

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_PATH = re.compile(r"\b(?:harness|scripts)/[\w/.-]+\.(?:py|sh|md|yaml)\b")
TEST_PATH = re.compile(r"\btests/(?:\w+/)*(?:test_\w+|\w+kit)\.py\b")  # test files and kits, not a repository's tests/runtests.py


def load_writer():
    spec = importlib.util.spec_from_file_location("write_config_reference", ROOT / "scripts" / "write_config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def list_anchors(page: Path) -> set[str]:
    """The anchors of a page's headings (lines in fenced code blocks are not headings)."""
    anchors, fenced = set(), False
    for line in page.read_text().splitlines():
        fenced ^= line.lstrip().startswith("```")
        if line.startswith("#") and not fenced:
            anchors.add(make_anchor(line.lstrip("#")))
    return anchors


def test_the_config_reference_is_what_the_script_writes():
    writer = load_writer()
    written = (ROOT / "docs" / "reference" / "config.md").read_text()
    assert written == writer.make_reference(), (
        "docs/reference/config.md differs from the config models' docstrings: "
        "run `python scripts/write_config_reference.py` and commit docs/reference/config.md")


def test_the_reference_names_every_pipeline_key_with_its_default():
    text = (ROOT / "docs" / "reference" / "config.md").read_text()
    assert "| `defaults.limits.step_limit` | int | 100 | Model queries per run. |" in text
    assert "| `models.<label>.api_key_env` | str \\| None | None |" in text
    assert "| `iterations[].route.top` | int \\| None | None |" in text
    assert "| `executor.kind` | \"local\" \\| \"ray\" | 'local' |" in text


def test_a_field_without_a_docstring_stops_the_writer():
    class Undocumented(Strict):
        documented: int = 1
        """Has one."""
        bare: str = Field("x")

    writer = load_writer()
    assert Undocumented.model_fields["documented"].description == "Has one."
    with pytest.raises(SystemExit, match="Undocumented.bare has no docstring"):
        writer.list_rows(Undocumented, "", {})


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_reaches_its_file_and_heading(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        reached = (page.parent / path).resolve() if path else page
        if not reached.exists():
            broken.append(f"{target}: no file {reached.relative_to(ROOT)}")
        elif anchor and reached.suffix == ".md" and anchor not in list_anchors(reached):
            broken.append(f"{target}: no heading #{anchor} in {reached.relative_to(ROOT)}")
    assert broken == [], f"{page.relative_to(ROOT)} links to what is not there"


def test_every_test_file_the_docs_cite_exists():
    cited = {(page.relative_to(ROOT), path) for page in PAGES for path in TEST_PATH.findall(page.read_text())}
    assert len({path for _, path in cited}) >= 15, "the docs cite fewer test files than they did"
    missing = sorted(f"{page} cites {path}" for page, path in cited if not (ROOT / path).is_file())
    assert missing == []


def test_every_module_and_script_the_docs_cite_exists():
    """A module renamed or split leaves no page pointing at its old path (fix the page, or the docstring in
    harness/*/config.py and rerun scripts/write_config_reference.py)."""
    cited = {(page.relative_to(ROOT), path) for page in PAGES for path in CODE_PATH.findall(page.read_text())}
    assert len({path for _, path in cited}) >= 20, "the docs cite fewer modules and scripts than they did"
    missing = sorted(f"{page} cites {path}" for page, path in cited if not (ROOT / path).is_file())
    assert missing == []


def test_every_page_is_reachable_from_the_docs_index():
    index = ROOT / "docs" / "README.md"
    linked = {(index.parent / target.partition("#")[0]).resolve() for target in LINK.findall(index.read_text())}
    orphans = [str(page.relative_to(ROOT)) for page in PAGES if page.parent != ROOT and page != index
               and page.resolve() not in linked]
    assert orphans == [], "add these pages to docs/README.md"
