"""The workflow layer: `patchmix run` loads its pipeline config once and hands it to the runs and to the select
stage (the select stage's own behaviour is tested in tests/select/test_select_stage.py)."""

from __future__ import annotations

import pytest
import yaml
from tests.pipeline.pipelinekit import make_config, write_config

from harness.demo.models import make_demo_script
from harness.fileio import read_jsonl
from harness.pipeline.load import load_pipeline_config
from harness.pipeline.progress import Progress
from harness.scripted.server import ScriptedServer
from harness.workflow import chains
from harness.workflow.chains import run_then_select


@pytest.mark.docker
def test_patchmix_run_reads_its_config_once_for_the_runs_and_the_select_stage(bundled_rows, tmp_path, monkeypatch):
    """The workflow loads the config and hands it to the pipeline and to the select stage: with the file gone
    once it is loaded, both still run; `--workers` reaches the run folder's config.yaml, not the loaded one."""
    loaded = []

    def load_then_remove(path):
        loaded.append(load_pipeline_config(path))
        path.unlink()
        return loaded[-1]

    monkeypatch.setattr(chains, "load_pipeline_config", load_then_remove)
    rows = [bundled_rows["patchmix__unitconv-1"]]
    with ScriptedServer(make_demo_script(rows)) as server:
        config = make_config(server.api_base, name="once", instances={"ids": ["patchmix__unitconv-1"]},
                             iterations=[{"models": ["fixer"]}], select={})
        path = write_config(tmp_path / "pipeline.yaml", config)
        assert run_then_select(path, runs_dir=tmp_path / "runs", workers=1, progress=Progress(live=False)) == 0
    run_dir = tmp_path / "runs" / "once"
    assert len(loaded) == 1 and not path.exists() and loaded[0].workers == 2
    assert read_jsonl(run_dir / "selected" / "last" / "preds.jsonl")[0]["instance_id"] == "patchmix__unitconv-1"
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["workers"] == 1
