"""The Environment against real containers: the persistent shell, file access, the patch, the cleanup."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time

import docker
import pytest
import requests

from harness.agent.config import ContainerConfig
from harness.agent.environment.docker_environment import Environment
from harness.agent.environment.removal import is_removal_under_way, remove_leftover_containers
from harness.exceptions import InfraError
from harness.agent.environment.execs import FrameReader, OutputCap, cap_text

BASE_IMAGE = "patchmix/python:bookworm"
TEST_IMAGE = "patchmix-test/environment:latest"
DOCKERFILE = f"""\
FROM {BASE_IMAGE}
LABEL patchmix=1
STOPSIGNAL SIGKILL
RUN git config --global user.email test@patchmix && git config --global user.name test \\
 && mkdir /testbed && cd /testbed && git init -q \\
 && printf 'def add(a, b):\\n    return a - b\\n' > calc.py \\
 && printf 'hello\\n' > README.md \\
 && mkdir tests && printf 'from calc import add\\n' > tests/test_calc.py \\
 && printf '*.log\\n' > .gitignore \\
 && git add -A && git commit -qm base
"""

CONFIG = ContainerConfig(workdir="/testbed", command_timeout=30, max_output_chars=10_000)


@pytest.fixture(scope="session")
def test_image(docker_client):
    docker_client.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=TEST_IMAGE, rm=True, forcerm=True)
    return TEST_IMAGE


@pytest.fixture(scope="module")
def env(docker_client, test_image):
    with Environment(test_image, CONFIG, client=docker_client) as environment:
        yield environment


@pytest.fixture
def fresh_env(docker_client, test_image):
    with Environment(test_image, CONFIG, client=docker_client) as environment:
        yield environment


def container_exists(client, name: str) -> bool:
    return bool(client.containers.list(all=True, filters={"name": f"^{name}$"}))


# -- output capping and stream framing (no docker) ------------------------------------------------------------

def test_output_cap_keeps_short_output_whole():
    cap = OutputCap(100)
    cap.add("héllo ".encode()[:3])  # a multi-byte character split across two reads
    cap.add("héllo ".encode()[3:])
    assert cap.text() == "héllo "


def test_output_cap_keeps_head_and_tail_and_reports_the_cut():
    cap = OutputCap(100)
    for index in range(10_000):
        cap.add(f"{index:05d}\n".encode())
    text = cap.text()
    assert text.startswith("00000\n")
    assert text.endswith("09999\n")
    assert "[... 59900 characters cut: the output was too long; narrow it" in text
    assert len(text) < 300


def test_cap_text_matches_the_streaming_cap():
    text = "".join(f"line {index}\n" for index in range(1000))
    cap = OutputCap(50)
    cap.add(text.encode())
    assert cap.text(hint="h") == cap_text(text, 50, "h")


def test_frame_reader_joins_frames_split_across_reads():
    data = b"\x01\x00\x00\x00\x00\x00\x00\x03abc" + b"\x02\x00\x00\x00\x00\x00\x00\x02de"
    reader = FrameReader()
    assert reader.feed(data[:5]) == []
    assert reader.feed(data[5:13]) == [(1, b"abc")]
    assert reader.feed(data[13:]) == [(2, b"de")]


# -- the persistent shell -------------------------------------------------------------------------------------

@pytest.mark.docker
def test_cd_carries_over_between_calls(env):
    assert env.execute("cd /tmp").exit_code == 0
    assert env.execute("pwd").output == "/tmp\n"
    env.execute("cd /testbed")


@pytest.mark.docker
def test_export_carries_over_between_calls(env):
    env.execute("export FOO=1")
    assert env.execute("echo $FOO").output == "1\n"


@pytest.mark.docker
def test_exit_codes_and_stderr_are_reported(env):
    result = env.execute("echo out; echo err >&2; false")
    assert result.exit_code == 1
    assert result.output == "out\nerr\n"
    assert not result.timed_out
    assert env.execute("(exit 7)").exit_code == 7


@pytest.mark.docker
def test_empty_output_is_an_empty_string(env):
    assert env.execute("true").output == ""


@pytest.mark.docker
@pytest.mark.parametrize("command", ["", "  \n", "# only a comment"])
def test_empty_and_comment_only_commands_succeed(env, command):
    result = env.execute(command)
    assert (result.output, result.exit_code) == ("", 0)


@pytest.mark.docker
def test_output_without_final_newline_is_kept_exactly(env):
    assert env.execute("printf 'a\\nb'").output == "a\nb"


@pytest.mark.docker
def test_timeout_kills_the_command_and_keeps_the_shell(env):
    env.execute("cd /usr")
    started = time.monotonic()
    result = env.execute("echo before; sleep 30", timeout=2)
    assert time.monotonic() - started < 5
    assert result.timed_out and result.exit_code is None
    assert result.output.startswith("before\n")
    assert "timed out after 2 s" in result.output
    assert env.execute("pwd").output == "/usr\n"
    env.execute("cd /testbed")


@pytest.mark.docker
def test_shell_that_cannot_be_interrupted_is_restarted(fresh_env, monkeypatch):
    monkeypatch.setattr("harness.agent.environment.shell.KILL_GRACE", 0.5)  # the wait for the marker after the kill
    fresh_env.execute("cd /usr")
    result = fresh_env.execute("while :; do :; done", timeout=1)
    assert result.timed_out
    assert "new shell was started in /testbed" in result.output
    assert fresh_env.execute("pwd").output == "/testbed\n"


@pytest.mark.docker
def test_syntax_error_returns_bash_message_and_runs_nothing(env):
    result = env.execute("touch /tmp/should-not-exist; echo (")
    assert result.exit_code == 2
    assert "syntax error" in result.output
    assert "was not run" in result.output
    assert env.execute("test -e /tmp/should-not-exist").exit_code == 1
    assert env.execute("echo ok").output == "ok\n"


@pytest.mark.docker
def test_trailing_backslash_does_not_hang_the_shell(env):
    result = env.execute("echo hi \\", timeout=5)
    assert not result.timed_out
    assert env.execute("echo ok").output == "ok\n"


@pytest.mark.docker
def test_command_reading_stdin_does_not_hang(env):
    result = env.execute("cat; read line; echo done", timeout=5)
    assert not result.timed_out
    assert result.output == "done\n"


@pytest.mark.docker
def test_huge_output_is_capped_with_the_cut_size(env):
    result = env.execute("yes | head -c 5000000")
    assert len(result.output) < CONFIG.max_output_chars + 300
    assert "[... 4990000 characters cut: the output was too long" in result.output
    assert result.output.startswith("y\ny\n") and result.output.endswith("y\ny\n")


@pytest.mark.docker
def test_background_process_does_not_block_the_marker(env):
    started = time.monotonic()
    result = env.execute("sleep 100 & echo started", timeout=10)
    assert result.output == "started\n" and result.exit_code == 0
    assert time.monotonic() - started < 3


@pytest.mark.docker
def test_heredoc_and_multiline_commands(env):
    result = env.execute("cat <<'EOF'\n$HOME stays\nEOF\nfor i in 1 2; do\n  echo $i\ndone")
    assert result.output == "$HOME stays\n1\n2\n"


@pytest.mark.docker
def test_exit_restarts_the_shell_and_says_so(fresh_env):
    result = fresh_env.execute("exit 3")
    assert result.exit_code == 3
    assert "shell exited" in result.output
    assert fresh_env.execute("echo ok").output == "ok\n"


@pytest.mark.docker
def test_shell_killed_from_outside_is_replaced(fresh_env):
    assert fresh_env.run(["kill", "-9", str(fresh_env.shell.pid)]) == (0, b"")
    first = fresh_env.execute("echo first")
    assert "new shell was started" in first.output
    assert fresh_env.execute("echo ok").output == "ok\n"


@pytest.mark.docker
def test_invalid_utf8_output_is_replaced(env):
    assert env.execute("printf 'a\\377b'").output == "a\ufffdb"


# -- one-off execs and files ----------------------------------------------------------------------------------

@pytest.mark.docker
def test_run_passes_stdin_and_returns_the_exit_code(env):
    assert env.run(["cat"], stdin=b"data") == (0, b"data")
    code, output = env.run(["ls", "/nope"])
    assert code == 2 and b"No such file" in output


@pytest.mark.docker
def test_run_kills_a_command_after_its_timeout(env):
    started = time.monotonic()
    code, _ = env.run(["sleep", "30"], timeout=1)
    assert code == 137
    assert time.monotonic() - started < 5


@pytest.mark.docker
def test_write_file_keeps_the_mode_and_read_file_reads_bytes(env):
    env.run(["bash", "-c", "printf old > /tmp/script.sh && chmod 750 /tmp/script.sh"])
    env.write_file("/tmp/script.sh", b"\x00new\xff")
    assert env.read_file("/tmp/script.sh") == b"\x00new\xff"
    assert env.run(["stat", "-c", "%a", "/tmp/script.sh"]) == (0, b"750\n")
    env.write_file("/tmp/new/dir/file.txt", b"x")
    assert env.read_file("/tmp/new/dir/file.txt") == b"x"


@pytest.mark.docker
def test_read_file_of_a_missing_path_raises_oserror(env):
    with pytest.raises(OSError, match="/nope"):
        env.read_file("/nope")


# -- the patch ------------------------------------------------------------------------------------------------

def apply_in_fresh_container(client, image: str, patch: str) -> str:
    with Environment(image, CONFIG, client=client) as clean:
        clean.write_file("/tmp/model.patch", patch.encode())
        code, output = clean.run(["git", "-C", "/testbed", "apply", "--verbose", "/tmp/model.patch"])
        assert code == 0, output.decode()
        return clean.execute("git status --short && cat calc.py").output


@pytest.mark.docker
def test_patch_without_changes_is_empty(fresh_env):
    result = fresh_env.make_patch(set())
    assert result.patch == "" and result.dropped == []


@pytest.mark.docker
def test_patch_covers_edits_new_and_deleted_files_and_applies(fresh_env, docker_client, test_image):
    fresh_env.execute("sed -i 's/a - b/a + b/' calc.py && rm README.md && echo 'x = 1' > new_module.py")
    fresh_env.execute("echo noise > debug.log && git add calc.py")  # ignored file; the agent's index is staged
    result = fresh_env.make_patch(set())
    assert "+    return a + b" in result.patch
    assert "deleted file mode" in result.patch and "README.md" in result.patch
    assert "new_module.py" in result.patch and "debug.log" not in result.patch
    assert result.patch.endswith("\n") and result.dropped == [{"path": "debug.log", "reason": "ignored"}]
    assert fresh_env.execute("git diff --cached --name-only").output == "calc.py\n"  # index untouched
    status = apply_in_fresh_container(docker_client, test_image, result.patch)
    assert "return a + b" in status and "?? new_module.py" in status and " D README.md" in status


@pytest.mark.docker
def test_patch_drops_binary_files_and_test_files(fresh_env):
    fresh_env.write_file("/testbed/blob.bin", b"\x00\x01\x02binary")
    fresh_env.execute("echo 'assert add(1, 2) == 3' >> tests/test_calc.py && echo '# ok' >> calc.py")
    result = fresh_env.make_patch({"tests/test_calc.py"})
    assert sorted(result.dropped, key=lambda item: item["path"]) == [
        {"path": "blob.bin", "reason": "binary"},
        {"path": "tests/test_calc.py", "reason": "test_file"},
    ]
    assert "calc.py" in result.patch
    assert "blob.bin" not in result.patch and "test_calc" not in result.patch


@pytest.mark.docker
def test_patch_excludes_only_dropped_files_even_with_absolute_paths(fresh_env):
    fresh_env.execute("echo '# t' >> tests/test_calc.py")
    result = fresh_env.make_patch({"/testbed/tests/test_calc.py", "tests/untouched.py"})
    assert result.patch == ""
    assert result.dropped == [{"path": "tests/test_calc.py", "reason": "test_file"}]


@pytest.mark.docker
def test_committed_changes_still_appear_in_the_patch(fresh_env, docker_client, test_image):
    fresh_env.execute("sed -i 's/a - b/a + b/' calc.py && git commit -qam fix && echo 'y = 2' > extra.py")
    result = fresh_env.make_patch(set())
    assert "+    return a + b" in result.patch and "extra.py" in result.patch
    status = apply_in_fresh_container(docker_client, test_image, result.patch)
    assert "return a + b" in status


@pytest.mark.docker
def test_an_unknown_base_commit_is_an_infra_error_at_start(docker_client, test_image):
    with pytest.raises(InfraError, match="base commit 0{40} is not in the repository"):
        Environment(test_image, CONFIG, client=docker_client, base_commit="0" * 40).start()


# -- container lifecycle --------------------------------------------------------------------------------------

@pytest.mark.docker
def test_container_is_labelled_and_removed_after_close(docker_client, test_image):
    env = Environment(test_image, CONFIG, labels={"patchmix.instance": "demo__demo-1"}, client=docker_client)
    env.start()
    name = env.name
    labels = docker_client.containers.get(name).labels
    assert labels["patchmix"] == "1" and labels["patchmix.pid"] == str(os.getpid())
    assert labels["patchmix.host"] == socket.gethostname() and labels["patchmix.instance"] == "demo__demo-1"
    env.close()
    env.close()  # idempotent
    assert not container_exists(docker_client, name)


@pytest.mark.docker
def test_container_is_removed_after_an_exception_inside_with(docker_client, test_image):
    names = []
    with pytest.raises(ZeroDivisionError):
        with Environment(test_image, CONFIG, client=docker_client) as env:
            names.append(env.name)
            raise ZeroDivisionError
    assert names and not container_exists(docker_client, names[0])


CTRL_C_SCRIPT = f"""
import signal
signal.signal(signal.SIGINT, signal.default_int_handler)  # as the CLI does: started with `&`, SIGINT is ignored
from harness.agent.config import ContainerConfig
from harness.agent.environment.docker_environment import Environment
with Environment({TEST_IMAGE!r}, ContainerConfig()) as env:
    print(env.name, flush=True)
    env.execute("sleep 60")
"""


@pytest.mark.docker
def test_container_is_removed_after_ctrl_c(docker_client, test_image):
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    child = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT], cwd=repo, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": repo})
    name = child.stdout.readline().strip()
    assert name.startswith("patchmix-")
    time.sleep(0.5)  # let it reach the command
    child.send_signal(signal.SIGINT)
    assert child.wait(timeout=180) != 0  # a bound on a hang, not a speed
    assert not container_exists(docker_client, name)


@pytest.mark.docker
def test_missing_image_raises_infra_error_and_leaves_nothing(docker_client):
    with pytest.raises(InfraError, match="not present locally"):
        Environment("patchmix-test/does-not-exist:never", CONFIG, client=docker_client).start()


@pytest.mark.docker
def test_dead_container_raises_infra_error(fresh_env, docker_client):
    docker_client.containers.get(fresh_env.name).kill()
    with pytest.raises(InfraError):
        fresh_env.execute("echo hi")


@pytest.mark.docker
def test_remove_leftover_containers_spares_live_owners(docker_client, test_image):
    child = subprocess.Popen(["true"])
    child.wait()  # its pid now belongs to no process
    host = socket.gethostname()
    dead = make_labelled_container(docker_client, test_image, {"patchmix.pid": str(child.pid), "patchmix.host": host})
    live = make_labelled_container(docker_client, test_image, {"patchmix.pid": str(os.getpid()), "patchmix.host": host})
    try:
        removed = remove_leftover_containers(docker_client)
        assert dead.name in removed and live.name not in removed
        assert not container_exists(docker_client, dead.name)
        assert container_exists(docker_client, live.name)
    finally:
        for container in (dead, live):
            try:
                container.remove(force=True)
            except docker.errors.NotFound:
                pass


def make_labelled_container(client, image: str, labels: dict[str, str]):
    return client.containers.create(image, entrypoint=["true"], labels={"patchmix": "1", **labels})


def test_two_removers_of_the_same_leftovers_both_succeed(docker_client, test_image):
    """Two processes starting at once (or a start meeting Ctrl-C's cleanup) remove the same leftovers: the one
    that finds a removal under way (Docker's 409 "already in progress") or done (404) moves on."""
    import threading

    child = subprocess.Popen(["true"])
    child.wait()
    labels = {"patchmix.pid": str(child.pid), "patchmix.host": socket.gethostname()}
    dead = [make_labelled_container(docker_client, test_image, labels) for _ in range(4)]
    for container in dead:
        container.start()
    errors = []

    def remove():
        try:
            remove_leftover_containers()
        except Exception as error:  # noqa: BLE001 - any error is what this test is about
            errors.append(error)

    threads = [threading.Thread(target=remove) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert not any(container_exists(docker_client, container.name) for container in dead)


def test_a_removal_under_way_is_told_from_other_docker_errors():
    def make_error(status: int, text: str) -> docker.errors.APIError:
        response = requests.Response()
        response.status_code = status
        return docker.errors.APIError("409 Client Error", response, explanation=text)

    assert is_removal_under_way(make_error(409, 'removal of container abc is already in progress'))
    assert not is_removal_under_way(make_error(409, 'You cannot remove a running container'))
    assert not is_removal_under_way(make_error(500, 'removal of container abc is already in progress'))
