"""Shipped files are found through the package, and a user's own prompts folder comes first."""

from __future__ import annotations

import pytest

from harness.agent.prompts import find_template, render
from harness.exceptions import ConfigError
from harness.pipeline.load import load_pipeline_config
from harness.resources import BUNDLED_NAMES, get_bundled_dir

from tests.pipeline.pipelinekit import make_config, write_config


def test_every_bundled_folder_is_found_with_its_files():
    expected = {"tools": "bash/config.yaml", "prompts": "instance.j2", "tasks": "unitconv/task.yaml",
                "demo": "pipeline.yaml", "datasets": "benchmarks.yaml"}
    assert set(expected) == set(BUNDLED_NAMES)
    for name, inside in expected.items():
        assert (get_bundled_dir(name) / inside).is_file(), name
    with pytest.raises(ValueError, match="no bundled folder 'nope'"):
        get_bundled_dir("nope")


def test_a_users_prompts_folder_is_searched_first(tmp_path):
    mine = tmp_path / "my-prompts"
    mine.mkdir()
    (mine / "instance.j2").write_text("Mine: {{ problem_statement }}")
    (mine / "extra.j2").write_text("Extra for {{ instance_id }}")
    config = make_config("http://127.0.0.1:9/v1")
    config["prompts_dir"] = "my-prompts"
    config["iterations"][1]["instance_template"] = "extra.j2"
    loaded = load_pipeline_config(write_config(tmp_path / "p.yaml", config))
    assert loaded.prompts_dir == str(mine)
    agent = loaded.get_agent_config(1, loaded.iterations[0].models[0])
    assert agent.prompts_dir == str(mine)
    assert render("instance.j2", {"problem_statement": "it breaks"}, agent.prompts_dir) == "Mine: it breaks"
    assert find_template("system.j2", agent.prompts_dir) == get_bundled_dir("prompts") / "system.j2"
    assert find_template("instance.j2") == get_bundled_dir("prompts") / "instance.j2"


def test_a_missing_prompts_folder_is_one_line_naming_the_key(tmp_path):
    config = make_config("http://127.0.0.1:9/v1")
    config["prompts_dir"] = "nowhere"
    with pytest.raises(ConfigError, match=r"config key prompts_dir: the folder nowhere does not exist") as caught:
        load_pipeline_config(write_config(tmp_path / "p.yaml", config))
    assert "\n" not in str(caught.value)
