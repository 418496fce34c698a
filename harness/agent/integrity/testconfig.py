"""Which files and which parts of them configure how tests run, read with real parsers and the test runners'
own rules for which section counts.

- ini files (`pytest.ini`, `.pytest.ini`, `tox.ini`, `setup.cfg`): configparser with pytest's section header rule
  (a comment after `]` is allowed: `[tool:pytest]  # note` is the `tool:pytest` section); the sections that count
  are pytest's (`pytest`, `tool:pytest`), tox's (`tox`, `testenv*`) and the `pytest11` entry point of
  `[options.entry_points]` (a pytest plugin the package registers when installed);
- `pyproject.toml`: tomllib (dotted keys such as `[tool]` + `pytest.ini_options.addopts` are the same table),
  `tool.pytest*`, `tool.tox` and the `pytest11` entry points of `project` and poetry;
- `package.json`: the test scripts (`test`, `pretest`, `posttest`, `test:*`) and the jest/mocha/ava/vitest keys;
- Maven's `pom.xml` (xml.etree): the surefire and failsafe plugins and the test properties (`skipTests`,
  `maven.test.failure.ignore`, `testFailureIgnore`, ...);
- the build files of Rust, Go, Gradle, CMake, Rake and Vite: their test settings (`harness.agent.integrity.langconfig`);
- files that are test configuration as a whole: pytest's and the JavaScript runners' config files (mocha's
  `.mocharc.*` and `mocha.opts`, jest's, vitest's, karma's), `.rspec`, `.rspec-local`, `spec/spec_helper.rb`,
  PHPUnit's `phpunit.xml`/`phpunit.xml.dist`/`phpunit.dist.xml`, cargo's `.cargo/config(.toml)`, a committed
  `go.env` or `go.work`, Maven's `.mvn/maven.config` and `.mvn/jvm.config`, CTest files (see WHOLE_FILE_NAMES).

`read_test_config(path, data)` gives the parts that count, comparable between two versions of a file; None for a
file that is not a config file of this kind.
"""

from __future__ import annotations

import configparser
import json
import posixpath
import re
import xml.etree.ElementTree as ElementTree

from harness.agent.integrity import langconfig

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

INI_FILES = {"tox.ini", "setup.cfg", "pytest.ini", ".pytest.ini"}
TOML_FILES = {"pyproject.toml"}
JSON_FILES = {"package.json"}
XML_FILES = {"pom.xml"}
MAVEN_TEST_PLUGINS = {"maven-surefire-plugin", "maven-failsafe-plugin"}
MAVEN_TEST_WORDS = ("test", "surefire", "failsafe")
WHOLE_FILE_NAMES = {"conftest.py", "sitecustomize.py", "usercustomize.py", "pytest.ini", ".rspec", ".rspec-local",
                    "phpunit.xml", "phpunit.xml.dist", "phpunit.dist.xml", "CTestTestfile.cmake", "CTestCustom.cmake",
                    "CTestCustom.ctest", "karma.conf.js", "mocha.opts", "go.env", "go.work"}
WHOLE_FILE_PREFIXES = (".mocharc.", "jest.config.", "vitest.config.", "vitest.workspace.", "karma.conf.",
                       "jest.setup.", ".pytest.ini")
WHOLE_FILE_PATHS = {".cargo/config.toml", ".cargo/config", ".mvn/maven.config", ".mvn/jvm.config",
                    "spec/spec_helper.rb"}
TEST_SECTION = re.compile(r"^\s*(?:pytest|tool:pytest|tox|testenv(?::.*)?)\s*$", re.IGNORECASE)
PLUGIN_GROUP = "pytest11"
PACKAGE_TEST_KEYS = {"jest", "mocha", "ava", "vitest"}
PACKAGE_TEST_SCRIPT = re.compile(r"^(?:pre|post)?test(?::.*)?$")
# pytest's reader (iniconfig) cuts a header line at its first comment character and wants `]` at the end
INI_HEADER = re.compile(r"\[(?P<header>[^#;\]]+)\]\s*(?:[#;].*)?$")


def is_whole_test_config(path: str) -> bool:
    """A file that configures tests as a whole: any change to it changes how the tests run."""
    name = posixpath.basename(path)
    return (name in WHOLE_FILE_NAMES or name.endswith(".pth") or name.startswith(WHOLE_FILE_PREFIXES)
            or any(path == p or path.endswith("/" + p) for p in WHOLE_FILE_PATHS))


def read_test_config(path: str, data: bytes) -> dict | None:
    """The parts of a config file that configure tests, by name, as parsed; None when `path` is not an ini,
    toml, package.json or pom.xml file nor a build file `harness.agent.integrity.langconfig` reads. A file its parser
    cannot read counts as a whole (so any change to it shows)."""
    name = posixpath.basename(path)
    text = data.decode("utf-8", errors="replace")
    if name in INI_FILES:
        return read_ini_sections(text, whole=name in {"pytest.ini", ".pytest.ini"})
    if name in TOML_FILES:
        return read_toml_sections(text)
    if name in JSON_FILES:
        return read_package_json(text)
    if name in XML_FILES:
        return read_pom(text)
    return langconfig.read_lang_config(path, text)


def make_ini_parser() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, allow_no_value=True, interpolation=None,
                                          comment_prefixes=("#", ";"), inline_comment_prefixes=None,
                                          default_section="\0none")
    parser.SECTCRE = INI_HEADER
    parser.optionxform = str
    return parser


def read_ini_sections(text: str, whole: bool = False) -> dict:
    """The test sections of an ini file (every section of pytest.ini, which pytest reads whatever it holds)."""
    parser = make_ini_parser()
    try:
        parser.read_string(text)
    except configparser.MissingSectionHeaderError:
        return read_ini_sections("[\0top]\n" + text, whole)
    except configparser.Error:
        return {"\0unreadable": text}  # pytest would stop on it too; the text itself is compared
    sections = {name.strip(): dict(parser.items(name)) for name in parser.sections()
                if whole or TEST_SECTION.match(name)}
    if parser.has_option("options.entry_points", PLUGIN_GROUP):
        sections["options.entry_points:pytest11"] = parser.get("options.entry_points", PLUGIN_GROUP)
    return sections


def read_toml_sections(text: str) -> dict:
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeError):
        return {"\0unreadable": text}
    tool, project = get_table(data, "tool"), get_table(data, "project")
    found = {f"tool.{key}": value for key, value in tool.items() if key.startswith("pytest") or key == "tox"}
    plugins = {"project.entry-points.pytest11": get_table(get_table(project, "entry-points"), PLUGIN_GROUP),
               "tool.poetry.plugins.pytest11": get_table(get_table(get_table(tool, "poetry"), "plugins"),
                                                         PLUGIN_GROUP)}
    return found | {key: value for key, value in plugins.items() if value}


def get_tag(element: ElementTree.Element) -> str:
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def read_pom(text: str) -> dict:
    """The test plugins' configuration and the test properties of a Maven POM, as XML text by name."""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return {"\0unreadable": text}
    found = {}
    for element in root.iter():
        tag = get_tag(element)
        if tag == "plugin":
            artifact = next((child.text for child in element if get_tag(child) == "artifactId"), "")
            if (artifact or "").strip() in MAVEN_TEST_PLUGINS:
                found[f"plugin:{artifact.strip()}"] = ElementTree.tostring(element, encoding="unicode")
        elif tag == "properties":
            found |= {f"property:{get_tag(p)}": (p.text or "").strip() for p in element
                      if any(word in get_tag(p).lower() for word in MAVEN_TEST_WORDS)}
    return found


def read_xml_line(text: str) -> tuple[str, str]:
    """(tag, text) of one line that is a whole XML element (`<skipTests>true</skipTests>`); ("", "") else."""
    try:
        element = ElementTree.fromstring(text.strip())
    except ElementTree.ParseError:
        return "", ""
    return get_tag(element), (element.text or "").strip()


def is_test_table(key: list[str]) -> bool:
    """Whether a pyproject.toml key path (table and key) lies in a part `read_toml_sections` reads."""
    tool = key[1] if len(key) > 1 and key[0] == "tool" else ""
    plugins = key[:3] == ["project", "entry-points", PLUGIN_GROUP] or key[:4] == ["tool", "poetry", "plugins",
                                                                                     PLUGIN_GROUP]
    return tool.startswith("pytest") or tool == "tox" or plugins


def get_table(data, key: str) -> dict:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def read_package_json(text: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        return {"\0unreadable": text}
    if not isinstance(data, dict):
        return {}
    scripts = get_table(data, "scripts")
    found = {f"scripts.{key}": value for key, value in scripts.items() if PACKAGE_TEST_SCRIPT.match(str(key))}
    return found | {key: data[key] for key in PACKAGE_TEST_KEYS if key in data}
