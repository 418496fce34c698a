"""Prompts are Jinja templates in `prompts/`; a missing variable is an error, never an empty string."""

from __future__ import annotations

from pathlib import Path

import jinja2

from harness.resources import get_bundled_dir

PROMPTS_DIR = get_bundled_dir("prompts")
# The only row fields a prompt may show: never hints_text, the gold patch, the test patch or the test names.
PROMPT_FIELDS = ("instance_id", "repo", "problem_statement")


def make_environment(prompts_dir: Path = PROMPTS_DIR) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(prompts_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,
    )


def render(template: str, variables: dict, prompts_dir: Path = PROMPTS_DIR) -> str:
    return make_environment(prompts_dir).get_template(template).render(**variables).strip()


def get_prompt_variables(row: dict, workdir: str) -> dict:
    """What the model may know of a dataset row: the issue text and where the repository is."""
    return {**{name: row[name] for name in PROMPT_FIELDS}, "workdir": workdir}


def check_templates(names: list[str], prompts_dir: Path = PROMPTS_DIR) -> None:
    """Raise TemplateNotFound (named) at start rather than in the middle of a batch."""
    env = make_environment(prompts_dir)
    for name in names:
        env.get_template(name)
