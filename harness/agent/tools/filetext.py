"""A file's text as the `str_replace_editor` tool handles it, without the container: decoding (binary and
non-UTF-8 files refused with what to do instead), newlines, lines and their numbers, where `old_str` occurs (and
why it does not), and the integers and ranges the model gives. Every failure raises `ToolError` with a message
that tells the model what to do next.
"""

from __future__ import annotations

import re

from harness.exceptions import ToolError


def decode_text(path: str, data: bytes, for_edit: bool) -> str:
    if b"\0" in data[:8192]:
        raise ToolError(f"{path} is a binary file; the editor only handles text. Inspect it with bash, "
                        f"e.g. `xxd {path} | head`.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        if for_edit:
            raise ToolError(f"{path} is not valid UTF-8 ({error.reason} at byte {error.start}), so the editor "
                            "cannot change it safely. Edit it with bash tools such as sed or perl.") from error
        return data.decode("utf-8", errors="replace")


def uses_crlf(text: str) -> bool:
    """True when every line ends in CRLF; mixed files are edited as they are."""
    return "\r\n" in text and text.count("\r\n") == text.count("\n")


def to_lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def split_lines(text: str) -> list[str]:
    """The lines of `text` without their newlines; a final newline does not start another line."""
    if not text:
        return []
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n")


def join_lines(lines: list[str], final_newline: bool) -> str:
    return "\n".join(lines) + ("\n" if final_newline else "")


def number_lines(lines: list[str], first: int) -> str:
    return "\n".join(f"{number:6}\t{line}" for number, line in enumerate(lines, start=first))


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def find_occurrences(text: str, needle: str) -> list[int]:
    starts, start = [], text.find(needle)
    while start >= 0:
        starts.append(start)
        start = text.find(needle, start + len(needle))
    return starts


def explain_no_match(path: str, text: str, old_str: str) -> str:
    message = f"No replacement was performed: old_str did not appear verbatim in {path}."
    squeezed = squeeze_whitespace(old_str)
    if squeezed and squeezed in squeeze_whitespace(text):
        message += (" It does match when whitespace is ignored: check the indentation (tabs or spaces), "
                    "line breaks and trailing spaces.")
    return message + " View the file (with view_range around the place) and copy the exact text into old_str."


def squeeze_whitespace(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def parse_int(value, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise ToolError(f"{name} must be an integer, not {value!r}. Call the command again with a number.") from error


def parse_view_range(view_range, line_count: int) -> tuple[int, int, str]:
    """(start, end, note) for a [start, end] range; end -1 means the end of the file."""
    if isinstance(view_range, str):
        view_range = re.findall(r"-?\d+", view_range)
    if not isinstance(view_range, (list, tuple)) or len(view_range) != 2:
        raise ToolError(f"view_range must be two integers [start, end], not {view_range!r}; "
                        "use end -1 to view to the end of the file.")
    start, end = (parse_int(value, "view_range") for value in view_range)
    if not 1 <= start <= max(line_count, 1):
        raise ToolError(f"view_range start {start} is out of range: the file has {line_count} lines, so start "
                        f"must be between 1 and {max(line_count, 1)}.")
    if end == -1:
        return start, line_count, ""
    if end < start:
        raise ToolError(f"view_range end {end} is before start {start}. Give an end of at least {start}, "
                        "or -1 to view to the end of the file.")
    if end > line_count:
        return start, line_count, f"\n[The file has only {line_count} lines; showing up to line {line_count}.]"
    return start, end, ""
