"""Docker exec plumbing: one-off commands in a container, and the framed stream they talk through.

Docker's exec API with the tty off multiplexes stdout and stderr on one socket: each frame is an 8-byte
header (stream id, three zero bytes, big-endian payload size) followed by the payload. `FrameReader` splits
that stream; `ExecStream` reads it with deadlines; `run_exec` runs one-off commands. Output is capped while it
is read (`OutputCap`), so a command printing gigabytes never fills the memory of the harness.
"""

from __future__ import annotations

import codecs
import select
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass

from harness.exceptions import InfraError

HEADER = struct.Struct(">BxxxL")
STDOUT, STDERR = 1, 2
READ_SIZE = 1 << 16
BASH_CUT_HINT = "narrow it, e.g. with head, tail or grep -n"


@dataclass
class ExecOutput:
    exit_code: int
    stdout: bytes
    stderr: bytes
    combined: bytes
    """stdout and stderr interleaved in the order they arrived."""


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
