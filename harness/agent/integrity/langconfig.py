"""The test settings of the build files of Rust, Go, Java (Gradle), C/C++ (CMake), Ruby (Rake) and Vite: the parts
of each file that change how tests run or are reported, comparable between two versions of it.

- `Cargo.toml` (tomllib): `[[test]]` targets, `[profile.test]`, the library's `test`/`harness` and the package's
  `build` script (a build script runs before every `cargo test`);
- `go.mod`: `replace` directives pointing at a local folder (the module's code swapped for a copy in the
  repository); a line reader, as `go mod edit -json` would read it (go.mod has no parser in Python);
- `build.gradle(.kts)`: the `test { }` blocks and their equivalents (`tasks.test`, `tasks.named("test")`,
  `tasks.withType(Test)`) and `test.<setting> = ...` lines;
- `CMakeLists.txt` and `*.cmake`: the CTest commands (`add_test`, `set_tests_properties`, `set_property(TEST`,
  the gtest/catch/doctest discoverers; `WILL_FAIL` and `PASS_REGULAR_EXPRESSION` live there);
- `Rakefile`: the test tasks (`Rake::TestTask`, `RSpec::Core::RakeTask`, `Minitest::TestTask`);
- `vite.config.*`: the `test: { }` section that vitest reads.

Gradle, CMake, Ruby and JavaScript have no parser in Python's standard library; for them a careful tokenizer finds
each block (comments skipped, strings kept whole, brackets or `do`/`end` counted). It never executes the file, and
a block cut short (the end of a diff's hunk) runs to the end of the text it was given, so the same reader serves a
whole file and the new or old side of one hunk.
"""

from __future__ import annotations

import posixpath
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

GRADLE_TEST_BLOCK = re.compile(
    r"(?:(?<![\w.])test|tasks\.test|tasks\.named\s*(?:<\s*Test\s*>)?\s*\(\s*['\"]test['\"]\s*\)"
    r"|tasks\.(?:withType|register|create)\s*(?:<\s*Test\s*>\s*)?\(?\s*(?:Test(?:::class(?:\.java)?)?)?[^{)]*\)?"
    r"|withType\s*<\s*Test\s*>|tasks\.getByName\s*\(\s*['\"]test['\"]\s*\))\s*(?:\.configure\s*)?\{")
GRADLE_TEST_SETTING = re.compile(r"(?<![\w.])(?:tasks\.)?test\.\w+\s*(?:=|\()")
CMAKE_TEST_COMMANDS = {"add_test", "set_tests_properties", "gtest_discover_tests", "gtest_add_tests",
                       "catch_discover_tests", "doctest_discover_tests"}
CMAKE_COMMAND = re.compile(r"(?<![\w$])([A-Za-z_][A-Za-z0-9_]*)\s*\(")
RAKE_TEST_TASK = re.compile(r"(?:Rake::TestTask|RSpec::Core::RakeTask|Minitest::TestTask|Rake::ExtensionTestTask)"
                            r"\.(?:new|create)\b")
RUBY_OPENERS = re.compile(r"\b(?:do|begin|def|class|module|case)\b|^\s*(?:if|unless|while|until)\b|\{")
RUBY_CLOSERS = re.compile(r"\bend\b|\}")
VITE_TEST_BLOCK = re.compile(r"(?<![\w.$])['\"]?test['\"]?\s*:\s*\{")
LOCAL_TARGET = ("./", "../", "/")


def read_lang_config(path: str, text: str) -> dict | None:
    """The test settings of a build file of these languages (see the module docstring) by name; None when `path`
    is not one of them."""
    name = posixpath.basename(path)
    if name == "Cargo.toml":
        return read_cargo_manifest(text)
    if name == "go.mod":
        return read_go_mod(text)
    if name in {"build.gradle", "build.gradle.kts"} or name.endswith((".gradle", ".gradle.kts")):
        return read_gradle(text)
    if name == "CMakeLists.txt" or name.endswith(".cmake"):
        return read_cmake(text)
    if name in {"Rakefile", "rakefile", "Rakefile.rb"} or name.endswith(".rake"):
        return read_rakefile(text)
    if name.startswith("vite.config."):
        return read_vite_config(text)
    return None


def is_tokenized(path: str) -> bool:
    """Whether the reader of `path` is a tokenizer (it reads a fragment, such as one side of a diff's hunk)."""
    name = posixpath.basename(path)
    return read_lang_config(path, "") is not None and name != "Cargo.toml"


# ------------------------------------------------------------------------------------------------- Rust, Go


def read_cargo_manifest(text: str) -> dict:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeError):
        return {"\0unreadable": text}
    lib, package = data.get("lib") or {}, data.get("package") or {}
    found = {"test": data.get("test"), "profile.test": (data.get("profile") or {}).get("test"),
             "lib.test": lib.get("test") if isinstance(lib, dict) else None,
             "lib.harness": lib.get("harness") if isinstance(lib, dict) else None,
             "package.build": package.get("build") if isinstance(package, dict) else None}
    return {key: value for key, value in found.items() if value is not None}


def read_go_mod(text: str) -> dict:
    """The `replace` directives of a go.mod whose target is a local folder (`=> ./fork`), in order."""
    replaces, in_block = [], False
    for raw in text.splitlines():
        line = raw.split("//", 1)[0].strip()
        if in_block and line == ")":
            in_block = False
            continue
        words = line.split()
        if words[:2] == ["replace", "("]:
            in_block = True
            continue
        spec = line if in_block else (line[len("replace"):].strip() if words[:1] == ["replace"] else "")
        if "=>" in spec and spec.split("=>", 1)[1].strip().startswith(LOCAL_TARGET):
            replaces.append(" ".join(spec.split()))
    return {"replace": replaces} if replaces else {}


# ------------------------------------------------------------------------------------------- the tokenizers


def strip_comments(text: str, line: str, block: tuple[str, str] | None, quotes: str) -> str:
    """`text` with its comments blanked (newlines kept) and its strings kept whole: `line` starts a comment to the
    end of the line, `block` a comment between two markers; `quotes` are the string delimiters."""
    out, index, length = [], 0, len(text)
    while index < length:
        char = text[index]
        if char in quotes:
            end = find_string_end(text, index)
            out.append(text[index:end])
            index = end
        elif text.startswith(line, index):
            end = text.find("\n", index)
            index = length if end < 0 else end
        elif block and text.startswith(block[0], index):
            end = text.find(block[1], index + len(block[0]))
            end = length if end < 0 else end + len(block[1])
            out.append(re.sub(r"[^\n]", " ", text[index:end]))
            index = end
        else:
            out.append(char)
            index += 1
    return "".join(out)


def find_string_end(text: str, start: int) -> int:
    """The index after the string that starts at `start` (backslash escapes; unterminated: the line's end)."""
    quote, index = text[start], start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == quote:
            return index + 1
        if text[index] == "\n" and quote != "`":
            return index
        index += 1
    return len(text)


def take_brackets(text: str, start: int, opener: str = "{", closer: str = "}") -> str:
    """The text from `start` (just after an opening bracket) to its matching closing one, strings skipped; to the
    end of `text` when it is cut short."""
    depth, index = 1, start
    while index < len(text) and depth:
        char = text[index]
        if char in "\"'`":
            index = find_string_end(text, index)
            continue
        depth += (char == opener) - (char == closer)
        index += 1
    return text[start:index - 1 if depth == 0 else index]


def normalise(text: str) -> str:
    return " ".join(text.split())


def read_gradle(text: str) -> dict:
    code = strip_comments(text, "//", ("/*", "*/"), "\"'")
    found = {}
    for number, match in enumerate(GRADLE_TEST_BLOCK.finditer(code)):
        found[f"{normalise(match.group(0))}#{number}"] = normalise(take_brackets(code, match.end()))
    settings = [normalise(code[m.start():code.find("\n", m.start()) % (len(code) + 1)])
                for m in GRADLE_TEST_SETTING.finditer(code)]
    return found | ({"test.settings": settings} if settings else {})


def read_cmake(text: str) -> dict:
    """The CTest commands of a CMake file, each as its normalised arguments (bracket comments aside, CMake's
    grammar is `name(arguments)` with `#` comments and quoted or bracketed arguments)."""
    code = strip_comments(text, "#", None, "\"")
    tests = []
    for match in CMAKE_COMMAND.finditer(code):
        name = match.group(1).lower()
        arguments = normalise(take_brackets(code, match.end(), "(", ")"))
        if name in CMAKE_TEST_COMMANDS or (name == "set_property" and arguments.upper().startswith("TEST")):
            tests.append(f"{name}({arguments})")
    return {"ctest": sorted(tests)} if tests else {}


def read_rakefile(text: str) -> dict:
    """The test tasks of a Rakefile: each from its `...TestTask.new` line to the `end` or `}` that closes it."""
    lines = strip_comments(text, "#", ("=begin", "=end"), "\"'").splitlines()
    found = {}
    for index, line in enumerate(lines):
        if RAKE_TEST_TASK.search(line):
            found[f"{normalise(line)}#{index}"] = normalise(" ".join(take_ruby_block(lines, index)))
    return found


def take_ruby_block(lines: list[str], start: int) -> list[str]:
    depth, block = 0, []
    for line in lines[start:]:
        block.append(line)
        depth += len(RUBY_OPENERS.findall(line)) - len(RUBY_CLOSERS.findall(line))
        if depth <= 0:
            break
    return block


def read_vite_config(text: str) -> dict:
    """The `test: { ... }` sections of a Vite config (what vitest reads from it)."""
    code = strip_comments(text, "//", ("/*", "*/"), "\"'`")
    return {f"test#{n}": normalise(take_brackets(code, m.end())) for n, m in enumerate(VITE_TEST_BLOCK.finditer(code))}
