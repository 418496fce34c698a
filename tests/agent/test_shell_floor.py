"""The persistent shell's syntax check costs no exec of its own, yet still refuses what does not parse."""

from __future__ import annotations

import pytest

from harness.agent.config import ContainerConfig
from harness.agent.environment.docker_environment import Environment

CONFIG = ContainerConfig(workdir="/testbed", command_timeout=30, max_output_chars=10_000)


class CountingApi:
    """The real docker API client, counting the execs created through it."""

    def __init__(self, api):
        self.api, self.execs = api, 0

    def exec_create(self, *args, **kwargs):
        self.execs += 1
        return self.api.exec_create(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.api, name)


@pytest.fixture(scope="module")
def env(docker_client, bundled_rows):
    image = next(iter(bundled_rows.values()))["image"]
    with Environment(image, CONFIG, client=docker_client) as environment:
        yield environment


def assert_refused_and_usable(env, command: str) -> None:
    env.execute("cd /tmp && export KEPT=yes && rm -f /tmp/ran")
    result = env.execute(command, timeout=10)
    assert result.exit_code == 2 and not result.timed_out
    assert "was not run: fix its syntax" in result.output
    assert "bash" in result.output  # bash's own message, naming the problem
    assert env.execute("test -e /tmp/ran").exit_code == 1  # nothing of it ran
    assert env.execute("echo $KEPT; pwd").output == "yes\n/tmp\n"  # the same shell answers


@pytest.mark.docker
def test_unterminated_quote_is_refused_and_the_shell_stays(env):
    assert_refused_and_usable(env, "touch /tmp/ran; echo 'no end")
    assert_refused_and_usable(env, 'touch /tmp/ran; echo "no end')


@pytest.mark.docker
def test_heredoc_without_its_end_is_refused_and_the_shell_stays(env):
    assert_refused_and_usable(env, "touch /tmp/ran\ncat <<'EOF'\nline one\nline two")


@pytest.mark.docker
def test_syntax_check_costs_no_exec(env):
    counting = CountingApi(env.shell.api)
    env.shell.api = counting
    try:
        assert env.execute("echo 'fine'").output == "fine\n"
        assert env.execute("echo (").exit_code == 2
        assert env.execute("cat <<'EOF'\nbody $HOME\nEOF").output == "body $HOME\n"
    finally:
        env.shell.api = counting.api
    assert counting.execs == 0


@pytest.mark.docker
def test_command_with_the_helper_names_still_runs(env):
    result = env.execute("x='__patchmix_cmd'; echo \"$x\" && echo 'EOF' && printf '%s\\n' \"a\\\\b\"")
    assert result.output == "__patchmix_cmd\nEOF\na\\b\n"
    assert env.execute("echo $x").output == "__patchmix_cmd\n"


@pytest.mark.docker
def test_extglob_patterns_parse_and_run(env):
    result = env.execute("cd /tmp && touch ga.x gb.x gc.y && ls @(ga|gb).x && rm -f g?.?")
    assert result.exit_code == 0 and result.output == "ga.x\ngb.x\n"


@pytest.mark.docker
def test_environments_leave_no_sockets_open(bundled_rows):
    import gc
    import os

    image = next(iter(bundled_rows.values()))["image"]
    gc.collect()
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(4):
        with Environment(image, CONFIG) as environment:
            environment.execute("true")
    gc.collect()
    assert len(os.listdir("/proc/self/fd")) <= before + 2  # not a docker client's sockets per run
