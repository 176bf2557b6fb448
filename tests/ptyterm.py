"""A command run on a pseudo-terminal, its screen read through a VT100 emulator (pyte).

:class:`PtyTerm` starts ``argv`` as the session leader of a new pty of ``cols`` x ``rows``
(so Ctrl-C typed on it is a SIGINT, as in a shell), feeds everything the command writes
to a ``pyte.Screen`` and types keys into it. Every wait has a timeout and fails naming
what was on the screen.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import termios
from collections.abc import Callable, Sequence

import pyte


class PtyTerm:
    def __init__(
        self,
        argv: Sequence[str],
        cols: int = 100,
        rows: int = 30,
        env: dict[str, str] | None = None,
    ) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.master = master
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.proc = subprocess.Popen(
            list(argv),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            # the pty's size, not one a test runner put in the environment
            env={
                **os.environ,
                "TERM": "xterm",
                "COLUMNS": str(cols),
                "LINES": str(rows),
                **(env or {}),
            },
            start_new_session=True,
            # the pty becomes the controlling terminal: ^C on it signals the command
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(slave)

    def __repr__(self) -> str:
        return f"PtyTerm(pid={self.proc.pid}, rc={self.proc.returncode})"

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def pump(self, timeout_s: float = 0.05) -> bool:
        """Read what the command wrote within ``timeout_s``; False at its end (EOF)."""
        ready, _, _ = select.select([self.master], [], [], timeout_s)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the command closed the pty
            return False
        if not data:
            return False
        self.raw += data
        self.stream.feed(data)
        return True

    def wait_for(self, what: str | Callable[[str], bool], timeout_s: float = 60.0) -> str:
        """Pump until the screen shows ``what`` (or ``what(text)`` is true); the text."""
        test = what if callable(what) else (lambda text: what in text)
        deadline = _now() + timeout_s
        while _now() < deadline:
            text = self.text()
            if test(text):
                return text
            if not self.pump() and not test(self.text()):
                raise AssertionError(f"the command ended waiting for {what!r}:\n{self.text()}")
        raise AssertionError(f"no {what!r} within {timeout_s} s; the screen:\n{self.text()}")

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def finish(self, timeout_s: float = 60.0) -> int:
        """Read to the end; the exit code."""
        deadline = _now() + timeout_s
        while _now() < deadline and self.pump(0.1):
            pass
        return self.proc.wait(timeout=max(0.1, deadline - _now()))

    def modes(self) -> list:
        """The pty's termios attributes now (what a shell would get back)."""
        return termios.tcgetattr(self.master)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.master >= 0:
            os.close(self.master)
            self.master = -1


def _now() -> float:
    import time

    return time.monotonic()
