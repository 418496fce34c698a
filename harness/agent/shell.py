"""The persistent bash shell behind the `bash` tool, and the exec plumbing under it.

Docker's exec API with the tty off multiplexes stdout and stderr on one socket: each frame is an 8-byte
header (stream id, three zero bytes, big-endian payload size) followed by the payload. `FrameReader` splits
that stream; `ExecStream` reads it with deadlines; `run_exec` runs one-off commands; `PersistentShell` keeps
one bash process per container so that `cd` and `export` carry over between calls, as in a terminal.

Every command sent to the persistent shell is followed by an end marker that carries `$?`. Output is capped
while it is read (`OutputCap`), so a command printing gigabytes never fills the memory of the harness.
"""

from __future__ import annotations

import codecs
import select
import socket
import struct
import time
import uuid
from collections import deque
from dataclasses import dataclass

from harness.exceptions import InfraError

HEADER = struct.Struct(">BxxxL")
STDOUT, STDERR = 1, 2
READ_SIZE = 1 << 16
KILL_GRACE = 3.0
"""Seconds to wait for the end marker after the process tree of a timed-out command was killed."""
BASH_CUT_HINT = "narrow it, e.g. with head, tail or grep -n"

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
printf '%s%s%s\\n' '{prefix}' '{suffix}' "$$"
"""

# The `:` makes an empty or comment-only command a valid group; it stays on line 1 so line numbers match.
COMMAND_SCRIPT = """\
{{ :; {command}
}} < /dev/null 2>&1
printf '%s%s%s\\n' '{prefix}' '{suffix}' "$?"
"""


@dataclass
class ExecOutput:
    exit_code: int
    stdout: bytes
    stderr: bytes
    combined: bytes
    """stdout and stderr interleaved in the order they arrived."""


@dataclass
class ShellOutput:
    output: str
    exit_code: int | None
    timed_out: bool


class ShellExited(Exception):
    """The persistent shell closed its end of the stream (the command ran `exit` or `exec`, or was killed)."""


class FrameReader:
    """Splits docker's multiplexed exec stream into (stream id, payload) frames, across partial reads."""

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        frames = []
        while len(self.buffer) >= HEADER.size:
            stream_id, size = HEADER.unpack_from(self.buffer)
            end = HEADER.size + size
            if len(self.buffer) < end:
                break
            frames.append((stream_id, bytes(self.buffer[HEADER.size:end])))
            del self.buffer[:end]
        return frames


class ExecStream:
    """The socket of one exec: send to its stdin, read its frames with a deadline."""

    def __init__(self, sock):
        # docker returns a SocketIO around the real socket; the wrapper holds the HTTP response whose garbage
        # collection would close the socket under us, so keep it alive as long as this stream.
        self.wrapper = sock
        self.sock = getattr(sock, "_sock", sock)
        self.reader = FrameReader()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_input(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def read_frames(self, deadline: float) -> list[tuple[int, bytes]] | None:
        """The frames that arrived before `deadline` (maybe none); None once the stream has ended."""
        remaining = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.sock], [], [], remaining)
        if not ready:
            return []
        data = self.sock.recv(READ_SIZE)
        if not data:
            return None
        return self.reader.feed(data)

    def close(self) -> None:
        self.sock.close()


class OutputCap:
    """Keeps the head and a bounded rolling tail of a stream of bytes, decoded as utf-8 while it arrives."""

    def __init__(self, limit: int):
        self.limit = limit
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.head: list[str] = []
        self.head_size = 0
        self.tail: deque[str] = deque()
        self.tail_size = 0
        self.total = 0

    def add(self, data: bytes, final: bool = False) -> None:
        text = self.decoder.decode(data, final)
        self.total += len(text)
        room = self.limit - self.head_size
        if room > 0:
            self.head.append(text[:room])
            self.head_size += len(self.head[-1])
            text = text[room:]
        if text:
            self.tail.append(text)
            self.tail_size += len(text)
            self._trim_tail()

    def _trim_tail(self) -> None:
        if self.tail_size <= 2 * self.limit:
            return
        kept = "".join(self.tail)[-self.limit:]
        self.tail = deque([kept])
        self.tail_size = len(kept)

    def text(self, hint: str = BASH_CUT_HINT) -> str:
        self.add(b"", final=True)
        kept = "".join(self.head) + "".join(self.tail)
        return cut_middle(kept, self.total, self.limit, hint)


def cap_text(text: str, limit: int, hint: str) -> str:
    """`text` if it has at most `limit` characters, else its head and tail around a notice."""
    return cut_middle(text, len(text), limit, hint)


def cut_middle(kept: str, total: int, limit: int, hint: str) -> str:
    """Cuts the middle out of a text of `total` characters, of which `kept` holds the head and the tail."""
    if total <= limit:
        return kept
    head_size = limit // 2
    tail_size = limit - head_size
    notice = f"\n[... {total - limit} characters cut: the output was too long; {hint} ...]\n"
    return kept[:head_size] + notice + (kept[-tail_size:] if tail_size else "")


def run_exec(api, container_id: str, argv: list[str], stdin: bytes | None = None, timeout: float = 60,
             workdir: str = "/") -> ExecOutput:
    """Runs `argv` once in the container; docker errors propagate to the caller, which knows the context.

    `stdin` is sent in full before output is read, so a command that echoes megabytes of it back may stall.
    """
    exec_id = api.exec_create(container_id, argv, stdin=stdin is not None, tty=False, workdir=workdir)["Id"]
    stream = ExecStream(api.exec_start(exec_id, socket=True))
    try:
        if stdin is not None:
            stream.send(stdin)
            stream.close_input()
        parts = read_to_end(stream, time.monotonic() + timeout, argv)
    finally:
        stream.close()
    return ExecOutput(read_exit_code(api, exec_id), *parts)


def read_to_end(stream: ExecStream, deadline: float, argv: list[str]) -> tuple[bytes, bytes, bytes]:
    out, err, combined = bytearray(), bytearray(), bytearray()
    while True:
        if time.monotonic() >= deadline:
            raise InfraError(f"the exec {argv[:4]} did not finish in time; the container may be overloaded")
        frames = stream.read_frames(deadline)
        if frames is None:
            return bytes(out), bytes(err), bytes(combined)
        for stream_id, payload in frames:
            (out if stream_id == STDOUT else err).extend(payload)
            combined.extend(payload)


def read_exit_code(api, exec_id: str) -> int:
    """The exit code of a finished exec; docker may need a moment to record it after the stream ends."""
    for _ in range(100):
        info = api.exec_inspect(exec_id)
        if not info["Running"] and info["ExitCode"] is not None:
            return info["ExitCode"]
        time.sleep(0.02)
    raise InfraError(f"docker did not report the exit code of exec {exec_id[:12]}; the engine may be stuck")


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

    def check_syntax(self, command: str) -> str | None:
        """bash's message if the command does not parse, else None. Runs apart from the persistent shell."""
        script = COMMAND_SCRIPT.format(command=command, prefix="p", suffix="s").encode()
        result = run_exec(self.api, self.container_id, ["bash", "-O", "extglob", "-n"], stdin=script, timeout=30)
        if result.exit_code == 0:
            return None
        return result.combined.decode("utf-8", errors="replace").strip() or "bash: syntax error"

    def run(self, command: str, timeout: float, limit: int) -> ShellOutput:
        """Runs a command that parses; on timeout kills its process tree and, if need be, restarts the shell."""
        prefix, suffix = make_marker()
        cap = OutputCap(limit)
        try:
            self.stream.send(COMMAND_SCRIPT.format(command=command, prefix=prefix, suffix=suffix).encode())
            status = self._read_until_marker(prefix + suffix, cap, time.monotonic() + timeout)
        except (ShellExited, BrokenPipeError, ConnectionResetError):
            return self._recover_from_exit(cap)
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
