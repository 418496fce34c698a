"""Where the files patchmix ships live: tool schemas, prompt templates, the bundled tasks, the demo config and the
table of known benchmarks.

In a source checkout they are the repository's top-level `tools/`, `prompts/`, `tasks/`, `scripts/demo/` and
`datasets/`; `harness/bundled/` links to them, and a built wheel carries them there as package data, so an installed
patchmix finds them from any directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

BUNDLED_NAMES = ("tools", "prompts", "tasks", "demo", "datasets")


def get_bundled_dir(name: str) -> Path:
    """The folder of one kind of shipped file (`tools`, `prompts`, `tasks`, `demo` or `datasets`)."""
    if name not in BUNDLED_NAMES:
        raise ValueError(f"no bundled folder {name!r}; there are {', '.join(BUNDLED_NAMES)}")
    return Path(str(resources.files("harness") / "bundled" / name))
