"""The `str_replace_editor` tool: view, create, str_replace, insert and undo_edit on files in the container.

Files are read and written through the Environment, as bytes decoded as utf-8; the undo history lives here,
on the host, per file. Every failure raises `ToolError` with a message that tells the model what to do next.
Tabs are kept as they are; a file whose lines all end in CRLF is edited with LF and written back with CRLF.
What is done to the text itself (decoding, lines, numbering, matching, ranges) is in
`harness.agent.tools.filetext`; here is what touches the container and the undo history.
"""

from __future__ import annotations

import posixpath

from harness.agent.environment.docker_environment import Environment
from harness.agent.environment.execs import cap_text
from harness.agent.tools.filetext import (decode_text, explain_no_match, find_occurrences, join_lines, line_of,
                                          number_lines, parse_int, parse_view_range, split_lines, to_lf, uses_crlf)
from harness.exceptions import ToolError

SNIPPET_LINES = 4
CUT_HINT = "view a part of the file with view_range, or find lines with `grep -n` in bash"
ARGUMENTS = {
    "view": {"view_range"},
    "create": {"file_text"},
    "str_replace": {"old_str", "new_str"},
    "insert": {"insert_line", "new_str"},
    "undo_edit": set(),
}
REVIEW = "Review the changes and make sure they are as expected (correct indentation, no duplicate lines). " \
         "Edit the file again if necessary."


class Editor:
    """Carries out `str_replace_editor` calls against one Environment and remembers edits for undo."""

    def __init__(self, env: Environment, max_output_chars: int = 10_000):
        self.env = env
        self.max_output_chars = max_output_chars
        self.history: dict[str, list[bytes | None]] = {}
        """Per file, its earlier contents, newest last; None means the file did not exist."""

    def run(self, command: str, path: str, **kwargs) -> str:
        """The observation for the model; raises ToolError with an actionable message on failure."""
        kwargs = {key: value for key, value in kwargs.items() if value is not None}
        self._check_arguments(command, kwargs)
        path = self._check_path(path)
        handler = getattr(self, f"_{command}")
        return cap_text(handler(path, **kwargs), self.max_output_chars, CUT_HINT)

    def _check_arguments(self, command: str, kwargs: dict) -> None:
        if command not in ARGUMENTS:
            raise ToolError(f"Unknown command {command!r}. Use one of: {', '.join(ARGUMENTS)}.")
        unknown = sorted(set(kwargs) - ARGUMENTS[command])
        if unknown:
            allowed = ", ".join(sorted(ARGUMENTS[command])) or "none besides path"
            raise ToolError(f"The command {command} does not take {', '.join(unknown)}. Its arguments are: "
                            f"{allowed}. Call it again without the others.")

    def _check_path(self, path: str) -> str:
        if not isinstance(path, str) or not path.strip():
            raise ToolError("The path is missing. Give an absolute path, e.g. "
                            f"{self.env.config.workdir}/setup.py.")
        if not path.startswith("/"):
            suggestion = posixpath.join(self.env.config.workdir, path)
            raise ToolError(f"The path {path} is not absolute. Use an absolute path, e.g. {suggestion}.")
        return posixpath.normpath(path)

    # -- commands -------------------------------------------------------------------------------------------

    def _view(self, path: str, view_range=None) -> str:
        kind = self._require_existing(path)
        if kind == "directory":
            if view_range is not None:
                raise ToolError(f"{path} is a directory, and view_range applies only to files. "
                                "View the directory without view_range, or view a file in it.")
            return self._list_directory(path)
        lines = split_lines(decode_text(path, self._read_bytes(path), for_edit=False))
        if not lines:
            return f"The file {path} is empty."
        if view_range is None:
            return f"Here's the result of running `cat -n` on {path}:\n{number_lines(lines, 1)}"
        start, end, note = parse_view_range(view_range, len(lines))
        shown = number_lines(lines[start - 1:end], start)
        return f"Here's the result of running `cat -n` on {path} (lines {start}-{end}):\n{shown}{note}"

    def _create(self, path: str, file_text: str | None = None) -> str:
        if file_text is None:
            raise ToolError("The create command needs file_text, the full content of the new file. "
                            "Call it again with file_text.")
        kind = self._kind(path)
        if kind == "directory":
            raise ToolError(f"{path} is a directory. Give the path of the new file inside it.")
        if kind != "missing":
            raise ToolError(f"The file {path} already exists, and create does not overwrite files. To change it, "
                            "use str_replace or insert; to see it, use view.")
        self._write_text(path, file_text, newline="\n", previous=None)
        return f"File created successfully at {path}."

    def _str_replace(self, path: str, old_str: str | None = None, new_str: str = "") -> str:
        if not old_str:
            raise ToolError("The str_replace command needs old_str, the exact text to replace (a few whole "
                            "lines, copied from the file). Call it again with old_str.")
        original, text, newline = self._load_for_edit(path)
        old_str, new_str = to_lf(old_str), to_lf(new_str)
        starts = find_occurrences(text, old_str)
        if not starts:
            raise ToolError(explain_no_match(path, text, old_str))
        if len(starts) > 1:
            line_numbers = ", ".join(str(line_of(text, start)) for start in starts[:20])
            line_numbers += ", ..." if len(starts) > 20 else ""
            raise ToolError(f"No replacement was performed: old_str occurs {len(starts)} times in {path}, on "
                            f"lines {line_numbers}. Add lines of context to old_str so that it occurs only once.")
        if old_str == new_str:
            raise ToolError("No replacement was performed: old_str and new_str are identical. "
                            "Give the changed text in new_str.")
        updated = text[:starts[0]] + new_str + text[starts[0] + len(old_str):]
        self._write_text(path, updated, newline, previous=original)
        last = line_of(updated, starts[0] + max(len(new_str) - 1, 0))
        return self._describe_edit(path, updated, line_of(text, starts[0]), last)

    def _insert(self, path: str, insert_line=None, new_str: str | None = None) -> str:
        if insert_line is None or new_str is None:
            raise ToolError("The insert command needs insert_line (the line after which to insert; 0 for the "
                            "top) and new_str (the text to insert). Call it again with both.")
        original, text, newline = self._load_for_edit(path)
        lines = split_lines(text)
        line = parse_int(insert_line, "insert_line")
        if not 0 <= line <= len(lines):
            raise ToolError(f"insert_line {line} is out of range: {path} has {len(lines)} lines, so insert_line "
                            f"must be between 0 (top of the file) and {len(lines)} (end of the file).")
        new_lines = split_lines(to_lf(new_str)) or [""]
        updated = join_lines(lines[:line] + new_lines + lines[line:], final_newline=text.endswith("\n") or not text)
        self._write_text(path, updated, newline, previous=original)
        return self._describe_edit(path, updated, line + 1, line + len(new_lines))

    def _undo_edit(self, path: str) -> str:
        stack = self.history.get(path)
        if not stack:
            raise ToolError(f"There is no edit to undo for {path}: this editor has not changed it (or every edit "
                            "was already undone). View the file to see its current content.")
        previous = stack.pop()
        if previous is None:
            self._remove(path)
            return f"Last edit to {path} undone successfully: the file was created by that edit and is removed."
        self._write_bytes(path, previous)
        text = previous.decode("utf-8", errors="replace").replace("\r\n", "\n")
        lines = split_lines(text)
        return f"Last edit to {path} undone successfully. Here's the file now:\n{number_lines(lines, 1)}"

    # -- helpers --------------------------------------------------------------------------------------------

    def _kind(self, path: str) -> str:
        """'file', 'directory', 'missing' or another `stat` file type."""
        code, output = self.env.run(["stat", "-L", "-c", "%F", "--", path])
        if code != 0:
            return "missing"
        kind = output.decode(errors="replace").strip()
        return {"regular file": "file", "regular empty file": "file"}.get(kind, kind)

    def _require_existing(self, path: str) -> str:
        kind = self._kind(path)
        if kind == "missing":
            parent = posixpath.dirname(path)
            raise ToolError(f"The path {path} does not exist. View {parent} to see what is there, "
                            "or use create to make a new file.")
        if kind not in ("file", "directory"):
            raise ToolError(f"{path} is a {kind}, not a regular file or directory; inspect it with bash.")
        return kind

    def _require_file(self, path: str) -> None:
        if self._require_existing(path) == "directory":
            raise ToolError(f"{path} is a directory, and only files can be edited. View it to list its files.")

    def _read_bytes(self, path: str) -> bytes:
        try:
            return self.env.read_file(path)
        except OSError as error:
            raise ToolError(f"{error}. Check the file and its permissions with `ls -l {path}` in bash.") from error

    def _load_for_edit(self, path: str) -> tuple[bytes, str, str]:
        """The file's bytes, its text with LF newlines, and the newline to write back."""
        self._require_file(path)
        original = self._read_bytes(path)
        text = decode_text(path, original, for_edit=True)
        newline = "\r\n" if uses_crlf(text) else "\n"
        return original, text.replace("\r\n", "\n") if newline == "\r\n" else text, newline

    def _write_text(self, path: str, text: str, newline: str, previous: bytes | None) -> None:
        if newline != "\n":
            text = text.replace("\n", newline)
        self._write_bytes(path, text.encode("utf-8"))
        self.history.setdefault(path, []).append(previous)

    def _write_bytes(self, path: str, data: bytes) -> None:
        try:
            self.env.write_file(path, data)
        except OSError as error:
            raise ToolError(f"{error}. Check the directory and its permissions with `ls -ld` in bash.") from error

    def _remove(self, path: str) -> None:
        code, output = self.env.run(["rm", "-f", "--", path])
        if code != 0:
            raise ToolError(f"Could not remove {path} to undo its creation: {output.decode(errors='replace')}. "
                            "Remove it with bash.")

    def _list_directory(self, path: str) -> str:
        argv = ["find", path, "-mindepth", "1", "-maxdepth", "2", "-name", ".*", "-prune", "-o",
                "-printf", "%p\t%y\n"]
        code, output = self.env.run(argv)
        if code != 0:
            raise ToolError(f"Could not list {path}: {output.decode(errors='replace').strip()}. Try `ls` in bash.")
        entries = []
        for line in sorted(output.decode(errors="replace").splitlines()):
            name, _, kind = line.rpartition("\t")
            entries.append(name + "/" if kind == "d" else name)
        listing = "\n".join(entries) if entries else "(empty)"
        return (f"Here are the files and directories up to 2 levels deep in {path}, "
                f"excluding hidden items:\n{path}/\n{listing}")

    def _describe_edit(self, path: str, text: str, first: int, last: int) -> str:
        lines = split_lines(text)
        start = max(1, first - SNIPPET_LINES)
        end = min(len(lines), last + SNIPPET_LINES)
        snippet = number_lines(lines[start - 1:end], start)
        return (f"The file {path} has been edited. Here's the result of running `cat -n` on a snippet of "
                f"{path}:\n{snippet}\n{REVIEW}")
