"""The str_replace_editor against a real container: every command and every error message."""

from __future__ import annotations

import itertools

import pytest

from harness.agent.config import ContainerConfig
from harness.agent.tools.editor import Editor
from harness.agent.environment.docker_environment import Environment
from harness.exceptions import ToolError

IMAGE = "patchmix/python:bookworm"
CONFIG = ContainerConfig(workdir="/testbed")
counter = itertools.count()

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def env(docker_client):
    with Environment(IMAGE, CONFIG, client=docker_client) as environment:
        yield environment


@pytest.fixture
def editor(env):
    return Editor(env)


@pytest.fixture
def folder(env):
    """A fresh directory per test, so tests can share the container."""
    path = f"/testbed/case{next(counter)}"
    env.run(["mkdir", "-p", path])
    return path


def write(env, path: str, text: str | bytes) -> str:
    env.write_file(path, text.encode() if isinstance(text, str) else text)
    return path


def read(env, path: str) -> str:
    return env.read_file(path).decode()


def numbered(text: str) -> list[tuple[int, str]]:
    return [(int(line.split("\t")[0]), line.split("\t", 1)[1]) for line in text.splitlines() if "\t" in line]


# -- view -----------------------------------------------------------------------------------------------------

def test_view_file_shows_numbered_lines(env, editor, folder):
    path = write(env, f"{folder}/a.py", "one\n\ttwo\nthree\n")
    output = editor.run("view", path)
    assert f"cat -n` on {path}" in output
    assert numbered(output) == [(1, "one"), (2, "\ttwo"), (3, "three")]


def test_view_range_and_minus_one(env, editor, folder):
    path = write(env, f"{folder}/a.py", "".join(f"line{index}\n" for index in range(1, 21)))
    assert numbered(editor.run("view", path, view_range=[3, 5])) == [(3, "line3"), (4, "line4"), (5, "line5")]
    assert numbered(editor.run("view", path, view_range=[19, -1])) == [(19, "line19"), (20, "line20")]
    clamped = editor.run("view", path, view_range=[19, 99])
    assert numbered(clamped)[-1] == (20, "line20") and "only 20 lines" in clamped


def test_view_range_errors_say_the_valid_range(env, editor, folder):
    path = write(env, f"{folder}/a.py", "a\nb\n")
    with pytest.raises(ToolError, match="between 1 and 2"):
        editor.run("view", path, view_range=[5, 6])
    with pytest.raises(ToolError, match="before start"):
        editor.run("view", path, view_range=[2, 1])
    with pytest.raises(ToolError, match="two integers"):
        editor.run("view", path, view_range=[1])


def test_view_directory_lists_two_levels_without_hidden(env, editor, folder):
    for name in ("pkg/mod.py", "pkg/deep/x.py", "pkg/deep/deeper/y.py", ".hidden/z.py", "pkg/.secret", "top.py"):
        write(env, f"{folder}/{name}", "")
    output = editor.run("view", folder)
    assert f"{folder}/pkg/" in output and f"{folder}/pkg/mod.py" in output and f"{folder}/top.py" in output
    assert f"{folder}/pkg/deep/" in output
    assert "/x.py" not in output and ".hidden" not in output and ".secret" not in output


def test_view_empty_file(env, editor, folder):
    path = write(env, f"{folder}/empty.py", "")
    assert "is empty" in editor.run("view", path)


def test_view_long_file_is_capped_with_a_hint(env, folder):
    path = write(env, f"{folder}/long.txt", "x" * 50 + "\n" + "y\n" * 5000)
    output = Editor(env, max_output_chars=1000).run("view", path)
    assert "characters cut" in output and "view_range" in output
    assert len(output) < 1300


def test_view_binary_file_is_refused(env, editor, folder):
    path = write(env, f"{folder}/blob.bin", b"\x00\x01binary")
    with pytest.raises(ToolError, match="binary file.*xxd"):
        editor.run("view", path)


# -- paths ----------------------------------------------------------------------------------------------------

def test_relative_path_is_refused_with_a_suggestion(editor):
    with pytest.raises(ToolError, match="not absolute.*/testbed/src/a.py"):
        editor.run("view", "src/a.py")


def test_missing_path_is_reported(editor, folder):
    with pytest.raises(ToolError, match=f"{folder}/nope.py does not exist.*View {folder}"):
        editor.run("view", f"{folder}/nope.py")
    with pytest.raises(ToolError, match="does not exist"):
        editor.run("str_replace", f"{folder}/nope.py", old_str="a", new_str="b")


def test_unknown_command_and_argument_are_reported(editor, folder):
    with pytest.raises(ToolError, match="Unknown command 'delete'.*view, create"):
        editor.run("delete", folder)
    with pytest.raises(ToolError, match="does not take file_text.*view_range"):
        editor.run("view", folder, file_text="x")


def test_editing_a_directory_is_refused(editor, folder):
    with pytest.raises(ToolError, match="is a directory"):
        editor.run("insert", folder, insert_line=0, new_str="x")


# -- create ---------------------------------------------------------------------------------------------------

def test_create_writes_the_file_and_its_directories(env, editor, folder):
    output = editor.run("create", f"{folder}/new/pkg/mod.py", file_text="x = 1\n")
    assert "created" in output
    assert read(env, f"{folder}/new/pkg/mod.py") == "x = 1\n"


def test_create_refuses_an_existing_file(env, editor, folder):
    path = write(env, f"{folder}/a.py", "keep\n")
    with pytest.raises(ToolError, match="already exists.*str_replace.*view"):
        editor.run("create", path, file_text="new\n")
    assert read(env, path) == "keep\n"


def test_create_needs_file_text(editor, folder):
    with pytest.raises(ToolError, match="needs file_text"):
        editor.run("create", f"{folder}/a.py")


# -- str_replace ----------------------------------------------------------------------------------------------

def test_str_replace_edits_and_shows_a_snippet(env, editor, folder):
    path = write(env, f"{folder}/a.py", "".join(f"line{index}\n" for index in range(1, 21)))
    output = editor.run("str_replace", path, old_str="line10\n", new_str="ten\nTEN\n")
    assert read(env, path).splitlines()[8:12] == ["line9", "ten", "TEN", "line11"]
    assert [number for number, _ in numbered(output)] == list(range(6, 16))
    assert "Review the changes" in output


def test_str_replace_with_default_new_str_deletes(env, editor, folder):
    path = write(env, f"{folder}/a.py", "keep\ndrop me\nkeep too\n")
    editor.run("str_replace", path, old_str="drop me\n")
    assert read(env, path) == "keep\nkeep too\n"


def test_str_replace_without_match_suggests_viewing(env, editor, folder):
    path = write(env, f"{folder}/a.py", "def f():\n\treturn 1\n")
    with pytest.raises(ToolError, match="did not appear verbatim.*View the file"):
        editor.run("str_replace", path, old_str="return 2", new_str="return 3")
    with pytest.raises(ToolError, match="does match when whitespace is ignored"):
        editor.run("str_replace", path, old_str="def f():\n    return 1", new_str="x")


def test_str_replace_with_several_matches_names_the_lines(env, editor, folder):
    path = write(env, f"{folder}/a.py", "x = 1\ny = 2\nx = 1\n")
    with pytest.raises(ToolError, match="occurs 2 times.*lines 1, 3.*context"):
        editor.run("str_replace", path, old_str="x = 1", new_str="x = 3")
    assert read(env, path) == "x = 1\ny = 2\nx = 1\n"


def test_str_replace_rejects_identical_and_empty_old_str(env, editor, folder):
    path = write(env, f"{folder}/a.py", "x = 1\n")
    with pytest.raises(ToolError, match="identical"):
        editor.run("str_replace", path, old_str="x = 1", new_str="x = 1")
    with pytest.raises(ToolError, match="needs old_str"):
        editor.run("str_replace", path, old_str="", new_str="y")


def test_str_replace_keeps_tabs_and_crlf(env, editor, folder):
    path = write(env, f"{folder}/win.txt", "a\r\n\tb\r\nc\r\n")
    editor.run("str_replace", path, old_str="\tb\n", new_str="\tB\n\tB2\n")
    assert env.read_file(path) == b"a\r\n\tB\r\n\tB2\r\nc\r\n"


def test_str_replace_refuses_binary_and_non_utf8(env, editor, folder):
    binary = write(env, f"{folder}/blob.bin", b"\x00abc")
    latin = write(env, f"{folder}/latin.txt", b"caf\xe9\n")
    with pytest.raises(ToolError, match="binary"):
        editor.run("str_replace", binary, old_str="abc", new_str="x")
    with pytest.raises(ToolError, match="not valid UTF-8.*sed"):
        editor.run("str_replace", latin, old_str="caf", new_str="x")


def test_edit_keeps_file_mode(env, editor, folder):
    path = write(env, f"{folder}/run.sh", "echo a\n")
    env.run(["chmod", "755", path])
    editor.run("str_replace", path, old_str="echo a", new_str="echo b")
    assert env.run(["stat", "-c", "%a", path]) == (0, b"755\n")


# -- insert ---------------------------------------------------------------------------------------------------

def test_insert_at_top_middle_and_end(env, editor, folder):
    path = write(env, f"{folder}/a.py", "a\nb\n")
    editor.run("insert", path, insert_line=0, new_str="top")
    editor.run("insert", path, insert_line=2, new_str="middle\n")
    output = editor.run("insert", path, insert_line=4, new_str="end1\nend2")
    assert read(env, path) == "top\na\nmiddle\nb\nend1\nend2\n"
    assert numbered(output)[-2:] == [(5, "end1"), (6, "end2")]


def test_insert_into_empty_file_and_file_without_final_newline(env, editor, folder):
    empty = write(env, f"{folder}/empty.py", "")
    editor.run("insert", empty, insert_line=0, new_str="x = 1")
    assert read(env, empty) == "x = 1\n"
    bare = write(env, f"{folder}/bare.py", "a\nb")
    editor.run("insert", bare, insert_line=2, new_str="c")
    assert read(env, bare) == "a\nb\nc"


def test_insert_out_of_range_says_the_valid_range(env, editor, folder):
    path = write(env, f"{folder}/a.py", "a\nb\n")
    with pytest.raises(ToolError, match="between 0 .* and 2"):
        editor.run("insert", path, insert_line=5, new_str="x")
    with pytest.raises(ToolError, match="must be an integer"):
        editor.run("insert", path, insert_line="two", new_str="x")
    with pytest.raises(ToolError, match="needs insert_line"):
        editor.run("insert", path, new_str="x")


# -- undo_edit ------------------------------------------------------------------------------------------------

def test_undo_edit_goes_back_several_levels(env, editor, folder):
    path = write(env, f"{folder}/a.py", "v0\n")
    editor.run("str_replace", path, old_str="v0", new_str="v1")
    editor.run("insert", path, insert_line=1, new_str="v2")
    editor.run("str_replace", path, old_str="v1", new_str="v3")
    assert read(env, path) == "v3\nv2\n"
    assert "v1" in editor.run("undo_edit", path)
    assert read(env, path) == "v1\nv2\n"
    editor.run("undo_edit", path)
    assert read(env, path) == "v1\n"
    editor.run("undo_edit", path)
    assert read(env, path) == "v0\n"
    with pytest.raises(ToolError, match="no edit to undo"):
        editor.run("undo_edit", path)


def test_undo_of_create_removes_the_file(env, editor, folder):
    path = f"{folder}/made.py"
    editor.run("create", path, file_text="x\n")
    editor.run("str_replace", path, old_str="x", new_str="y")
    editor.run("undo_edit", path)
    assert read(env, path) == "x\n"
    assert "removed" in editor.run("undo_edit", path)
    assert env.run(["test", "-e", path])[0] == 1


def test_undo_history_is_per_file(env, editor, folder):
    first = write(env, f"{folder}/a.py", "a\n")
    second = write(env, f"{folder}/b.py", "b\n")
    editor.run("str_replace", first, old_str="a", new_str="A")
    with pytest.raises(ToolError, match="no edit to undo"):
        editor.run("undo_edit", second)
    editor.run("undo_edit", first)
    assert read(env, first) == "a\n"


def test_path_is_normalized_for_undo(env, editor, folder):
    path = write(env, f"{folder}/a.py", "a\n")
    editor.run("str_replace", f"{folder}/./a.py", old_str="a", new_str="b")
    editor.run("undo_edit", path)
    assert read(env, path) == "a\n"


def test_none_arguments_are_ignored(env, editor, folder):
    path = write(env, f"{folder}/a.py", "a\n")
    output = editor.run("view", path, view_range=None, file_text=None, old_str=None)
    assert numbered(output) == [(1, "a")]
