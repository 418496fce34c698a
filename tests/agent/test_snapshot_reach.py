"""The snapshot the patch is measured from stays out of the agent's reach for the whole run:
nothing the agent runs finds it (listing, `find /`, every git object directory of the filesystem searched for a
blob only the snapshot holds), a process the agent leaves running cannot touch the collection, and an agent
that breaks its own environment ends `env_broken`, final, its trajectory kept, never redone on resume. Real
containers, the scripted provider over HTTP, the pipeline's own run folder."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from harness.agent.config import AgentConfig, ContainerConfig
from harness.agent.attempt import run_instance
from harness.pipeline.launch import run_pipeline
from harness.pipeline.progress import Progress
from harness.pipeline.rundir import is_finished_info
from harness.scripted.server import ScriptedServer
from harness.fileio import read_jsonl

from tests.conftest import make_scripted_model
from tests.agent.agentkit import FIX, SUBMIT, UNITCONV, bash, observations
from tests.pipeline.pipelinekit import build_image, make_config, write_config

BASE_NOTES = "only the base state holds this line 7f3c\n"
AGENT_NOTES = "the agent's text\n"
WITH_NOTES = """\
FROM {image}
RUN printf '{notes}' > /testbed/notes.txt
STOPSIGNAL SIGKILL
"""
SEARCH = r"""
blob=$(git hash-object notes.txt); echo "BLOB $blob"
ls -d /var/lib/patchmix /.patchmix-* 2>&1
echo PACKS; find / -xdev -name '*.pack' 2>/dev/null
echo STORES; find / -xdev \( -name start -o -name start-index -o -name '.patchmix-*' -o -name patchmix \) 2>/dev/null
for store in /var/lib/patchmix/* /.patchmix-*; do git --git-dir="$store" log --oneline -1 2>/dev/null; done
echo HOLDERS
find / -xdev -type d -name objects 2>/dev/null | while IFS= read -r dir; do
  GIT_OBJECT_DIRECTORY="$dir" git cat-file -e "$blob" 2>/dev/null && echo "$dir"
done
find / -xdev -path "*/${blob:0:2}/${blob:2}" 2>/dev/null
echo END
"""


def hash_blob(text: str) -> str:
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def list_commands(traj: dict) -> list[str | None]:
    """The `command` argument of each tool call of a trajectory (None for a call without one: submit)."""
    return [json.loads(call["arguments"]).get("command") for step in traj["steps"] for call in step["tool_calls"]]


def section(output: str, start: str, end: str) -> list[str]:
    return output.split(f"{start}\n", 1)[1].split(f"{end}\n", 1)[0].splitlines()


@pytest.fixture(scope="module")
def notes_row(bundled_rows, docker_client):
    """The unitconv task in an image whose work tree holds an untracked file at start: its blob is in no object
    directory of the repository, only in the snapshot."""
    row = dict(bundled_rows[UNITCONV])
    image = "patchmix-test/unitconv-untracked-notes:latest"
    build_image(docker_client, WITH_NOTES.format(image=row["image"], notes=BASE_NOTES.replace("\n", "\\n")), image)
    yield {**row, "image": image}
    docker_client.images.remove(image, force=True)


@pytest.mark.docker
def test_nothing_the_agent_runs_finds_the_snapshot_yet_the_patch_is_measured_from_it(notes_row, run_scripted):
    steps = [bash(SEARCH), bash(f"printf \"{AGENT_NOTES[:-1]}\\n\" > notes.txt"), FIX, SUBMIT]
    prediction, traj, _ = run_scripted(notes_row, steps)
    search = observations(traj)[0]
    base = hash_blob(BASE_NOTES)
    assert f"BLOB {base}" in search, "the agent saw the file the snapshot holds, before it edited it"
    assert "'/var/lib/patchmix': No such file" in search and "'/.patchmix-*': No such file" in search
    packs = section(search, "PACKS", "STORES")
    assert packs and all(path.startswith("/testbed/.git/objects/pack/") for path in packs), packs
    assert section(search, "STORES", "HOLDERS") == [], "no store, no store's log"
    assert section(search, "HOLDERS", "END") == [], "no object directory on the filesystem holds the base blob"
    notes_diff = (f"diff --git a/notes.txt b/notes.txt\nindex {base[:7]}..{hash_blob(AGENT_NOTES)[:7]} 100644\n"
                  f"--- a/notes.txt\n+++ b/notes.txt\n@@ -1 +1 @@\n-{BASE_NOTES}+{AGENT_NOTES}")
    assert traj["info"]["exit_status"] == "submitted"
    assert prediction["model_patch"] == notes_diff + notes_row["patch"], "measured from the base blob it hid"
    assert traj["info"]["patch_dropped"] == []


DAEMON = ("setsid nohup sh -c 'while :; do rm -rf /var/lib/patchmix /.patchmix-* /testbed/.git/index; "
          "sleep 0.05; done' > /dev/null 2>&1 & echo started")
BASHRC_DAEMON = ("printf '%s\\n' \"setsid nohup sh -c 'while :; do rm -rf /.patchmix-*; sleep 0.05; done' "
                 ">/dev/null 2>&1 &\" >> ~/.bashrc && echo started")
FSMONITOR = ("printf '#!/bin/sh\\nrm -rf /.patchmix-*\\nexit 1\\n' > /tmp/monitor && chmod +x /tmp/monitor && "
             "git config core.fsmonitor /tmp/monitor && echo started")

FILTER = ("printf '* filter=wipe\\n' > .git/info/attributes && git config filter.wipe.clean "
          "'rm -rf /.patchmix-*; cat' && git config filter.wipe.required true && echo started")


@pytest.mark.docker
@pytest.mark.parametrize("command", [DAEMON, BASHRC_DAEMON, FSMONITOR, FILTER],
                         ids=["daemon", "bashrc", "fsmonitor", "filter"])
def test_a_process_the_agent_leaves_or_plants_cannot_touch_the_collection(bundled_rows, run_scripted, command):
    row = bundled_rows[UNITCONV]
    prediction, traj, _ = run_scripted(row, [bash(command), FIX, SUBMIT])
    assert observations(traj)[0].strip() == "started"
    assert traj["info"]["exit_status"] == "submitted", traj["info"].get("exit_detail")
    assert prediction["model_patch"] == row["patch"] and traj["info"]["patch_dropped"] == []


@pytest.mark.docker
@pytest.mark.parametrize(("command", "status"), [
    ("kill 1; sleep 20", "env_broken"), ("kill -9 -1; sleep 20", "env_broken"),
    ("rm -rf /testbed/.git", "env_broken"), ("printf 'not a ref' > /testbed/.git/HEAD", "env_broken"),
    ("git -C /testbed config core.bare true", "env_broken"),
    ("rm -rf /testbed/.git/objects /testbed/.git/refs", "env_broken"),
    ("rm -rf /var/lib/patchmix /.patchmix-*", "submitted"),
    ("printf 'x\\0' >> /var/lib/patchmix/*/start", "submitted")])
def test_an_agent_that_breaks_its_environment_ends_final_with_its_steps_kept(bundled_rows, run_scripted, command,
                                                                             status):
    row = bundled_rows[UNITCONV]
    prediction, traj, _ = run_scripted(row, [FIX, bash(command), SUBMIT])
    info = traj["info"]
    assert info["exit_status"] == status, info.get("exit_detail")
    assert is_finished_info(info), "a final status: a rerun does not redo it"
    assert list_commands(traj)[:2] == ["str_replace", command], "the trajectory holds the agent's steps"
    if status == "env_broken":
        assert "agent's" in info["exit_detail"] and prediction["model_patch"] == ""
    else:
        assert prediction["model_patch"] == row["patch"], "the old store's path holds nothing of the run's"


@pytest.mark.docker
@pytest.mark.parametrize("command", ["kill -9 -1; sleep 20", "rm -rf /testbed/.git"])
def test_a_resume_does_not_redo_a_run_whose_environment_the_agent_broke(bundled_rows, tmp_path, command):
    script = {"models": {"saboteur": [{"match": "", "replies": [FIX, bash(command), SUBMIT]}]}}
    with ScriptedServer(script) as server:
        config = make_config(server.api_base, "reach", instances={"ids": [UNITCONV]}, workers=1,
                             iterations=[{"models": ["saboteur"]}], images={"pull": False})
        config["models"] = {"saboteur": {**config["models"]["fixer"], "name": "openai/saboteur"}}
        path = write_config(tmp_path / "reach.yaml", config)
        assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
        seen = len(server.requests)
        folder = tmp_path / "runs" / "reach" / "iter_1" / "saboteur"
        first = (folder / f"{UNITCONV}.traj.json").read_text()
        assert run_pipeline(path, runs_dir=tmp_path / "runs", progress=Progress(live=False)) == 0
        assert len(server.requests) == seen >= 2, "the resume sent nothing: the run was not redone"
    traj = json.loads((folder / f"{UNITCONV}.traj.json").read_text())
    assert (folder / f"{UNITCONV}.traj.json").read_text() == first, "the attempt's trajectory is not overwritten"
    assert traj["info"]["exit_status"] == "env_broken" and len(traj["steps"]) >= 2
    assert list_commands(traj) == ["str_replace", command, None][:len(traj["steps"])]
    assert read_jsonl(folder / "preds.jsonl") == [
        {"instance_id": UNITCONV, "model_name_or_path": "reach__iter1__saboteur", "model_patch": ""}]


@pytest.mark.docker
def test_a_container_the_agent_stops_after_its_last_command_is_started_again_for_an_exact_patch(
        bundled_rows, docker_client, tmp_path):
    row = bundled_rows[UNITCONV]
    stopped = []

    def wait_for_the_stop(model, step, reply):
        if reply is SUBMIT:  # the submit is answered once the agent's delayed `kill 1` has stopped the container
            [container] = docker_client.containers.list(
                all=True, filters={"label": [f"patchmix.pid={os.getpid()}", f"patchmix.instance={UNITCONV}"]})
            stopped.append(container.wait(timeout=120)["StatusCode"])

    later = bash("setsid sh -c 'sleep 1; kill 1' > /dev/null 2>&1 & echo planted")
    script = {"models": {"agent": [{"match": "", "replies": [FIX, later, SUBMIT]}]}}
    with ScriptedServer(script, on_reply=wait_for_the_stop) as server:
        config = AgentConfig(model=make_scripted_model(server), container=ContainerConfig(command_timeout=20))
        prediction, info = run_instance(row, config, tmp_path / "t.traj.json", "scripted-agent")
    assert len(stopped) == 1, "the container was stopped before the patch was collected"
    assert info["exit_status"] == "submitted", info.get("exit_detail")
    assert prediction["model_patch"] == row["patch"] and is_finished_info(info)
