"""The report's markdown (`summary.md`) as HTML, for the run browser's summary page.

Only the subset `report.render_summary` writes: headings, pipe tables, bullet lists, image lines, paragraphs,
with **bold** and `code` inside. Text is escaped before any markup is added, so nothing in the report can
become a tag. Images point to `charts/<file>` (the site copies the charts there).
"""

from __future__ import annotations

import html
import re

IMAGE = re.compile(r"^!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)$")
BOLD = re.compile(r"\*\*(.+?)\*\*")
CODE = re.compile(r"`([^`]+)`")
SAFE_FILE = re.compile(r"^[A-Za-z0-9_.-]+$")
TABLE_CELL = re.compile(r"(?<!\\)\|")
NUMBER = re.compile(r"^(–|[-+]?\$?[\d,]+(\.\d+)?%?|\d+:\d\d:\d\d)$")


def format_inline(text: str) -> str:
    escaped = html.escape(text, quote=True)
    escaped = CODE.sub(r"<code>\1</code>", escaped)
    return BOLD.sub(r"<strong>\1</strong>", escaped)


def split_row(line: str) -> list[str]:
    cells = TABLE_CELL.split(line.strip().strip("|"))
    return [cell.strip().replace("\\|", "|") for cell in cells]


def render_cell(cell: str) -> str:
    """A table cell; numbers (counts, percentages, dollars, durations) are right-aligned."""
    kind = ' class="num"' if NUMBER.match(cell) else ""
    return f"<td{kind}>{format_inline(cell)}</td>"


def render_table(lines: list[str]) -> str:
    header, body = split_row(lines[0]), [split_row(line) for line in lines[2:]]
    head = "".join(f"<th>{format_inline(cell)}</th>" for cell in header)
    rows = "".join("<tr>" + "".join(render_cell(cell) for cell in row) + "</tr>" for row in body)
    return f'<div class="table-wrap"><table class="summary"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def render_image(match: re.Match, charts_dir: str) -> str:
    src = match["src"]
    if not SAFE_FILE.match(src):
        return f"<p>{format_inline(match.group(0))}</p>"
    alt = html.escape(match["alt"], quote=True)
    return f'<figure class="chart"><img src="{charts_dir}/{src}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


def render_markdown(text: str, charts_dir: str = "charts") -> str:
    """HTML for the report's markdown; blocks are separated by blank lines, as the report writes them."""
    parts = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [line for line in block.splitlines() if line.strip()]
        if not lines:
            continue
        parts.append(render_block(lines, charts_dir))
    return "\n".join(parts)


def render_block(lines: list[str], charts_dir: str) -> str:
    first = lines[0]
    heading = re.match(r"^(#{1,4}) (.*)$", first)
    if heading and len(lines) == 1:
        level = len(heading[1]) + 1  # the page has its own h1
        return f"<h{level}>{format_inline(heading[2])}</h{level}>"
    if first.startswith("|") and len(lines) > 1 and set(lines[1].replace("|", "").strip()) <= set("-: "):
        return render_table(lines)
    if all(line.startswith("- ") for line in lines):
        return "<ul>" + "".join(f"<li>{format_inline(line[2:])}</li>" for line in lines) + "</ul>"
    if len(lines) == 1 and (image := IMAGE.match(first.strip())):
        return render_image(image, charts_dir)
    return "<p>" + "<br>".join(format_inline(line) for line in lines) + "</p>"
