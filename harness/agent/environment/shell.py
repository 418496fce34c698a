"""The persistent bash shell behind the `bash` tool: one bash process per container, so that `cd` and
`export` carry over between calls, as in a terminal. The exec plumbing under it is in `execs`.

Every command sent to the persistent shell is followed by an end marker that carries `$?`. Output is capped
while it is read (`OutputCap`), so a command printing gigabytes never fills the memory of the harness.

The syntax check costs no docker exec and no process: the command reaches the shell as the body of a quoted
here-doc (data, not parsed as it arrives), the shell parses it as a function body it never calls, and only a
command that parses is `eval`ed, all in one round trip. A command that does not parse (an unterminated quote, a here-doc without
its end) therefore never reaches the shell's parser, and the shell stays usable.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from harness.agent.environment.execs import STDOUT, ExecStream, OutputCap, read_exit_code, run_exec
from harness.exceptions import InfraError

SHELL_ENVIRONMENT = {
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "MANPAGER": "cat",
    "PIP_PROGRESS_BAR": "off",
    "TQDM_DISABLE": "1",
}
"""Set in the agent's shell so that no tool waits for a terminal or floods the output with progress bars."""

KILL_GRACE = 3.0
"""Seconds to wait for the end marker after the process tree of a timed-out command was killed."""

# Kills every descendant of the process given as $1 (found through /proc, no procps needed), repeating
# until none is left, because a dying pipeline can still fork. Zombies are skipped: their parent reaps them.
KILL_TREE_SCRIPT = r"""
root=$1
for round in 1 2 3 4 5 6 7 8 9 10; do
  unset kids; declare -A kids
  for f in /proc/[0-9]*/stat; do
    { read -r line < "$f"; } 2>/dev/null || continue
    pid=${f#/proc/}; pid=${pid%/stat}
    set -- ${line##*) }
    [[ $1 == Z ]] && continue
    kids[$2]+=" $pid"
  done
  found=(); queue=("$root")
  while ((${#queue[@]})); do
    p=${queue[-1]}; unset 'queue[-1]'
    for c in ${kids[$p]}; do found+=("$c"); queue+=("$c"); done
  done
  ((${#found[@]})) || exit 0
  kill -9 "${found[@]}" 2>/dev/null
  sleep 0.05
done
"""

STARTUP_SCRIPT = """\
[ -f ~/.bashrc ] && . ~/.bashrc > /dev/null 2>&1 < /dev/null
shopt -s extglob
printf '%s%s%s\\n' '{prefix}' '{suffix}' "$$"
"""

SYNTAX_ERROR = -2
"""The status the end marker carries when the command did not parse (bash's own codes are 0 to 255)."""

# The command, in a group that reads /dev/null and merges stderr, as data in a here-doc whose delimiter is unique
# (the `:` makes an empty or comment-only command a valid group; it stays on line 1 so line numbers match). The
# persistent shell parses it as the body of a function it defines but never calls (parsing runs nothing and
# needs no new process), and only if that parses runs it with `eval` (so `cd` and `export` carry over); else
# bash's message and SYNTAX_ERROR.
CHECKED_SCRIPT = """\
IFS= read -r -d '' __patchmix_cmd <<'{delimiter}' || :
{{ :; {command}
}} < /dev/null 2>&1
{delimiter}
if eval "__patchmix_parse() {{ $__patchmix_cmd
}}" 2>&1; then
unset -f __patchmix_parse
eval "$__patchmix_cmd"
__patchmix_rc=$?; unset __patchmix_cmd
printf '%s%s%s\\n' '{prefix}' '{suffix}' "$__patchmix_rc"
else
unset __patchmix_cmd
printf '%s%s%s\\n' '{prefix}' '{suffix}' '{syntax_error}'
fi
"""


@dataclass
class ShellOutput:
    output: str
    exit_code: int | None
    timed_out: bool
    syntax_error: bool = False
    """The command did not parse and was not run; `output` is bash's message."""


class ShellExited(Exception):
    """The persistent shell closed its end of the stream (the command ran `exit` or `exec`, or was killed)."""


def make_marker() -> tuple[str, str]:
    """A unique end marker in two halves, so that the marker itself never appears in the command text."""
    return "__PATCHMIX_", f"{uuid.uuid4().hex}__"


class PersistentShell:
    """One long-lived bash process in a container, fed commands through its stdin."""

    def __init__(self, api, container_id: str, workdir: str, environment: dict[str, str] | None = None):
        self.api = api
        self.container_id = container_id
        self.workdir = workdir
        self.environment = environment or {}
        self.stream: ExecStream | None = None
        self.exec_id = ""
        self.pid = 0

    def open(self, timeout: float) -> None:
        argv = ["bash", "--noprofile", "--norc"]
        self.exec_id = self.api.exec_create(self.container_id, argv, stdin=True, tty=False,
                                            environment=self.environment, workdir=self.workdir)["Id"]
        self.stream = ExecStream(self.api.exec_start(self.exec_id, socket=True))
        prefix, suffix = make_marker()
        self.stream.send(STARTUP_SCRIPT.format(prefix=prefix, suffix=suffix).encode())
        try:
            pid = self._read_until_marker(prefix + suffix, OutputCap(1000), time.monotonic() + timeout)
        except ShellExited:
            pid = None
        if pid is None:
            raise InfraError(f"the bash shell did not start within {timeout:g} s; check that the image has bash")
        self.pid = pid

    def run(self, command: str, timeout: float, limit: int) -> ShellOutput:
        """Checks the command's syntax and runs it if it parses, in one round trip; on timeout kills its
        process tree and, if need be, restarts the shell."""
        prefix, suffix = make_marker()
        script = CHECKED_SCRIPT.format(command=command, prefix=prefix, suffix=suffix, syntax_error=SYNTAX_ERROR,
                                       delimiter=f"__PATCHMIX_EOF_{uuid.uuid4().hex}")
        cap = OutputCap(limit)
        try:
            self.stream.send(script.encode())
            status = self._read_until_marker(prefix + suffix, cap, time.monotonic() + timeout)
        except (ShellExited, BrokenPipeError, ConnectionResetError):
            return self._recover_from_exit(cap)
        if status == SYNTAX_ERROR:
            return ShellOutput(cap.text().strip(), 2, timed_out=False, syntax_error=True)
        if status is not None:
            return ShellOutput(cap.text(), status, timed_out=False)
        return self._recover_from_timeout(prefix + suffix, cap, timeout)

    def _recover_from_timeout(self, marker: str, cap: OutputCap, timeout: float) -> ShellOutput:
        self.kill_descendants()
        try:
            status = self._read_until_marker(marker, cap, time.monotonic() + KILL_GRACE)
        except ShellExited:
            status = None
        note = (f"[The command timed out after {timeout:g} s and was killed; the output above is what it printed "
                "so far; background processes started from this shell were killed too. Run long commands in the "
                "background (cmd > /tmp/log 2>&1 &) and check on them later, or work on a smaller scope.]")
        if status is None:
            self.restart()
            note += "\n" + self.restart_note("The shell did not answer after the kill")
        return ShellOutput(join_note(cap.text(), note), None, timed_out=True)

    def _recover_from_exit(self, cap: OutputCap) -> ShellOutput:
        exit_code = read_exit_code(self.api, self.exec_id)
        self.restart()
        note = self.restart_note(f"The shell exited with code {exit_code} (a command ran `exit` or `exec`, "
                                 "or the shell was killed)")
        return ShellOutput(join_note(cap.text(), note), exit_code, timed_out=False)

    def restart_note(self, reason: str) -> str:
        return (f"[{reason}, so a new shell was started in {self.workdir}: the working directory, "
                "variables and functions of the old one are lost.]")

    def _read_until_marker(self, marker: str, cap: OutputCap, deadline: float) -> int | None:
        """Feeds stdout to `cap` up to the marker and returns the number after it; None at the deadline."""
        token = marker.encode()
        pending = bytearray()
        while time.monotonic() < deadline:
            frames = self.stream.read_frames(deadline)
            if frames is None:
                cap.add(bytes(pending))
                raise ShellExited()
            pending += b"".join(payload for stream_id, payload in frames if stream_id == STDOUT)
            status = split_marker(pending, token)
            if status is not None:
                cap.add(bytes(pending))
                return status
            safe = max(0, len(pending) - len(token) - 24)  # the marker and its number may be arriving
            cap.add(bytes(pending[:safe]))
            del pending[:safe]
        cap.add(bytes(pending))
        return None

    def kill_descendants(self) -> None:
        """Kills every process below the shell, not the shell itself."""
        run_exec(self.api, self.container_id, ["bash", "-c", KILL_TREE_SCRIPT, "kill-tree", str(self.pid)],
                 timeout=30)

    def restart(self) -> None:
        if self.pid:
            run_exec(self.api, self.container_id, ["kill", "-9", str(self.pid)], timeout=30)
        self.close()
        self.open(timeout=30)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None


def split_marker(pending: bytearray, token: bytes) -> int | None:
    """If `pending` holds the whole marker line, cuts it (and what follows) off and returns its number."""
    start = pending.find(token)
    if start < 0:
        return None
    end = pending.find(b"\n", start)
    if end < 0:
        return None
    status = int(pending[start + len(token):end])
    del pending[start:]
    return status


def join_note(output: str, note: str) -> str:
    if not output:
        return note
    return output + ("" if output.endswith("\n") else "\n") + note
