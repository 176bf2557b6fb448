"""A real PostgreSQL server for tests: ``initdb`` + ``postgres`` in a temporary directory.

``PostgresServer()`` runs Debian's binaries (``/usr/lib/postgresql/<ver>/bin``) as a
non-root user (postgres refuses to run as root: under root, as the ``postgres`` system user
the Debian package creates, through ``setpriv``) in a new temporary directory, listening on
a free 127.0.0.1 port and on a unix socket in that directory. ``new_database()`` gives
the URL of a fresh, empty database (one per test). ``fsync`` is off: the tests check
behaviour, not crash durability.

A missing PostgreSQL is a test failure saying how to install it, never a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
#: The superuser ``initdb`` creates (trust authentication on loopback, test only).
SUPERUSER = "rehab"


class PostgresError(RuntimeError):
    """PostgreSQL could not be found, initialised, started or stopped."""


def bin_dir() -> Path:
    """Debian's PostgreSQL binaries, the newest version installed."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        raise PostgresError(
            "PostgreSQL is not installed: the clinic's PostgreSQL tests need a real server "
            "(Debian/Ubuntu: apt-get install -y postgresql, or run make test as root)"
        )
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _as_user() -> tuple[list[str], int | None, int | None]:
    """The command prefix and uid/gid to run postgres as: ourselves, or under root the
    ``postgres`` system user."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        pw = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresError(
            "running as root and there is no 'postgres' user to run the server as "
            "(apt-get install -y postgresql creates it)"
        ) from None
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    prefix = [
        setpriv,
        f"--reuid={pw.pw_uid}",
        f"--regid={pw.pw_gid}",
        "--clear-groups",
        "--",
    ]
    return prefix, pw.pw_uid, pw.pw_gid


class PostgresServer:
    """One PostgreSQL cluster in a new directory of the system's temporary directory
    (removed by :meth:`close`), started at once.

    Not under pytest's temporary directory: pytest keeps that private to root (0700, and
    resets it whenever another pytest session starts), so the server's user cannot reach
    it."""

    def __init__(self) -> None:
        self.workdir = Path(tempfile.mkdtemp(prefix="rehab-pg-"))
        self.bin = bin_dir()
        self.data = self.workdir / "data"
        self.log_path = self.workdir / "postgres.log"
        self.port = free_port()
        self._prefix, uid, gid = _as_user()
        if uid is not None:
            # The server's user owns its directory (and must reach it: open the tmp path).
            os.chown(self.workdir, uid, gid or -1)
        try:
            self.initdb_s = self._initdb()
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        """The URL of the maintenance database ``postgres``."""
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/postgres"

    def _initdb(self) -> float:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                *self._prefix,
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise PostgresError(f"initdb failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return time.perf_counter() - t0

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - the server's stderr for its lifetime
        self.proc = subprocess.Popen(
            [
                *self._prefix,
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                f"listen_addresses={HOST}",
                "-c",
                f"unix_socket_directories={self.workdir}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=60",
                "-c",
                "shared_buffers=16MB",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PostgresError(f"postgres exited at start; see {self.log_path}")
            if (self.workdir / f".s.PGSQL.{self.port}").exists():
                try:
                    with socket.create_connection((HOST, self.port), timeout=0.5):
                        return
                except OSError:
                    pass
            time.sleep(0.02)
        self.close()
        raise PostgresError(f"postgres did not accept connections; see {self.log_path}")

    def new_database(self) -> str:
        """Create an empty database; its URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:16]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{name}"

    def close(self) -> None:
        """Stop the server (fast shutdown) and remove its directory; safe to call twice."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown: clients are disconnected
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        shutil.rmtree(self.workdir, ignore_errors=True)


_shared: list[PostgresServer] = []  # the server of this test process, while in use
_users: list[int] = [0]


def serve() -> Iterator[PostgresServer]:
    """The body of a session fixture: one server per test process (pytest-xdist worker),
    started on first use and shared by every module's fixture, stopped after the last;
    a failure to start fails the test, never skips it."""
    import pytest

    if not _shared:
        try:
            _shared.append(PostgresServer())
        except PostgresError as exc:
            pytest.fail(str(exc), pytrace=False)
    _users[0] += 1
    try:
        yield _shared[0]
    finally:
        _users[0] -= 1
        if _users[0] == 0:
            _shared.pop().close()


__all__ = ["PostgresError", "PostgresServer", "bin_dir", "serve"]
