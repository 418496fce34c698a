"""A unified diff as static HTML with syntax colouring: each line's code is highlighted by pygments with the
lexer of its file's name, inside a row marked added, removed, context, hunk header or file header.

Everything that comes from the diff is escaped (pygments escapes the code it formats; headers go through
`html.escape`), so the output is safe to put into a page as it is.
"""

from __future__ import annotations

import html
import re

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

FILE_HEADER = re.compile(r"^diff --git a/(?P<path>.*?) b/")
HUNK = re.compile(r"^@@ -(?P<old>\d+)(?:,\d+)? \+(?P<new>\d+)(?:,\d+)? @@")
CSS_SCOPE = ".hl"
FORMATTER = HtmlFormatter(nowrap=True)
STYLE = "default"


def get_pygments_css() -> str:
    """The colours of the highlighted code, scoped to `.hl`."""
    return HtmlFormatter(style=STYLE).get_style_defs(CSS_SCOPE)


def pick_lexer(path: str):
    try:
        return get_lexer_for_filename(path, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return TextLexer(stripnl=False, ensurenl=False)


def highlight_code(code: str, lexer) -> str:
    return highlight(code, lexer, FORMATTER).rstrip("\n") if code else ""


def render_diff(patch: str) -> str:
    """A table of the diff's lines with old and new line numbers; empty text gives an empty string."""
    if not patch.strip():
        return ""
    rows, lexer, old, new = [], TextLexer(), 0, 0
    for line in patch.splitlines():
        kind, code = classify_line(line)
        if kind == "file":
            match = FILE_HEADER.match(line)
            lexer = pick_lexer(match["path"]) if match else TextLexer()
            rows.append(make_row("file", "", "", html.escape(line)))
        elif kind == "hunk":
            match = HUNK.match(line)
            old, new = (int(match["old"]), int(match["new"])) if match else (old, new)
            rows.append(make_row("hunk", "", "", html.escape(line)))
        elif kind == "meta":
            rows.append(make_row("meta", "", "", html.escape(line)))
        else:
            marker = {"add": "+", "del": "-", "ctx": " "}[kind]
            cells = (old if kind != "add" else "", new if kind != "del" else "")
            old, new = old + (kind != "add"), new + (kind != "del")
            rows.append(make_row(kind, *cells, f'<span class="mark">{marker}</span>{highlight_code(code, lexer)}'))
    return '<table class="diff hl"><tbody>' + "".join(rows) + "</tbody></table>"


def classify_line(line: str) -> tuple[str, str]:
    if line.startswith("diff --git "):
        return "file", line
    if line.startswith("@@"):
        return "hunk", line
    if line.startswith(("--- ", "+++ ", "index ", "new file mode", "deleted file mode", "similarity ", "rename ",
                        "old mode", "new mode", "Binary files", "\\ No newline")):
        return "meta", line
    if line.startswith("+"):
        return "add", line[1:]
    if line.startswith("-"):
        return "del", line[1:]
    return "ctx", line[1:] if line.startswith(" ") else line


def make_row(kind: str, old, new, content: str) -> str:
    return (f'<tr class="d-{kind}"><td class="ln">{old}</td><td class="ln">{new}</td>'
            f'<td class="code">{content}</td></tr>')


def count_changes(patch: str) -> tuple[int, int, int]:
    """(files, lines added, lines removed) of a diff."""
    files = added = removed = 0
    for line in patch.splitlines():
        kind, _ = classify_line(line)
        files += kind == "file"
        added += kind == "add"
        removed += kind == "del"
    return files, added, removed
