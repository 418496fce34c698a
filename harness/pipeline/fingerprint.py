"""What a run folder's results were made with besides its config: the contents of the prompt templates (and the
templates they include) and of the tools' schemas. Stored as `runs/<name>/fingerprints.json`; a resume whose
templates or tool schemas differ in content (same names, other words) is refused like a changed config.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import jinja2
from jinja2 import meta

from harness.agent.prompts import find_template, make_environment
from harness.agent.tools.calls import DEFAULT_TOOLS, TOOLS_DIR
from harness.exceptions import ConfigError
from harness.fileio import read_json, write_json_atomic
from harness.pipeline.config import PipelineConfig

FILE_NAME = "fingerprints.json"


def hash_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def get_template_names(config: PipelineConfig) -> list[str]:
    names = set()
    for spec in config.iterations:
        names |= {spec.system_template, spec.instance_template, getattr(spec, "summary_template", None)}
    return sorted(name for name in names if name)


def hash_templates(config: PipelineConfig) -> dict[str, str]:
    """sha256 of every template the iterations name and of every template those include, by name."""
    env = make_environment(config.prompts_dir)
    hashes, queue = {}, get_template_names(config)
    while queue:
        name = queue.pop()
        path = find_template(name, config.prompts_dir)
        if name in hashes or path is None:
            continue
        hashes[name] = hash_file(path)
        try:
            queue += [found for found in meta.find_referenced_templates(env.parse(path.read_text())) if found]
        except jinja2.TemplateSyntaxError:
            continue  # the run itself says what is wrong with it
    return dict(sorted(hashes.items()))


def make_fingerprints(config: PipelineConfig) -> dict:
    tools = {name: hash_file(Path(TOOLS_DIR) / name / "config.yaml") for name in DEFAULT_TOOLS
             if (Path(TOOLS_DIR) / name / "config.yaml").is_file()}
    return {"templates": hash_templates(config), "tools": tools}


def save_fingerprints(root: Path, config: PipelineConfig) -> None:
    write_json_atomic(Path(root) / FILE_NAME, make_fingerprints(config))


def check_fingerprints(root: Path, config: PipelineConfig) -> None:
    """Refuse to resume a folder whose templates or tool schemas had other contents (a folder from before
    fingerprints were kept is taken as it is)."""
    path = Path(root) / FILE_NAME
    if not path.is_file():
        return
    old, new = read_json(path), make_fingerprints(config)
    for kind, what in (("templates", "prompt template"), ("tools", "tool schema")):
        for name in sorted(set(old.get(kind, {})) | set(new[kind])):
            if old.get(kind, {}).get(name) != new[kind].get(name):
                raise ConfigError(
                    f"{root} holds results made with another {what} {name} (its content differs); give the "
                    f"pipeline a new name, restore that {what}, or delete that folder to start over")
