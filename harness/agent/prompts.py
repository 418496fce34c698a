"""Prompts are Jinja templates: the shipped ones in `prompts/`, and a folder of the user's own (`prompts_dir`),
searched first. A missing variable is an error, never an empty string."""

from __future__ import annotations

from pathlib import Path

import jinja2

from harness.resources import get_bundled_dir

PROMPTS_DIR = get_bundled_dir("prompts")
# The only row fields a prompt may show: never hints_text, the gold patch, the test patch or the test names.
PROMPT_FIELDS = ("instance_id", "repo", "problem_statement")


def get_search_path(prompts_dir: str | Path | None = None) -> list[str]:
    """Where templates are looked up: the user's own folder first, when one is named, then the shipped ones."""
    return ([str(prompts_dir)] if prompts_dir else []) + [str(PROMPTS_DIR)]


def make_environment(prompts_dir: str | Path | None = None) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(get_search_path(prompts_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def render(template: str, variables: dict, prompts_dir: str | Path | None = None) -> str:
    return make_environment(prompts_dir).get_template(template).render(**variables).strip()


def find_template(name: str, prompts_dir: str | Path | None = None) -> Path | None:
    """The file a template name resolves to, or None."""
    for folder in get_search_path(prompts_dir):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def get_prompt_variables(row: dict, workdir: str) -> dict:
    """What the model may know of a dataset row: the issue text and where the repository is."""
    return {**{name: row[name] for name in PROMPT_FIELDS}, "workdir": workdir}


def check_templates(names: list[str], prompts_dir: str | Path | None = None) -> None:
    """Raise TemplateNotFound (named) at start rather than in the middle of a batch."""
    env = make_environment(prompts_dir)
    for name in names:
        env.get_template(name)
