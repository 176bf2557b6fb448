"""A real mosquitto for tests (reference/MQTT.md §7): start, stop, kill, restart, TLS + ACL.

``Broker(workdir)`` picks a free loopback port, writes its config into ``workdir``, starts
``mosquitto -c <conf>`` in the foreground (no ``-d``, so the PID is ours), polls until the
port accepts, and offers ``stop(sig)``, ``restart(sig, down_s)`` and ``close()``. SIGTERM is
a clean shutdown (mosquitto saves its database); SIGKILL is a crash (everything since the
last autosave is lost, MQTT.md E1/E2).

``Broker(workdir, auth=BrokerAuth(...))`` runs the secured layout of MQTT.md §7.1: a
username/password listener (``port``) and a mutual-TLS listener (``tls_port``, certificate
CN = username), both with the station ACL. ``make_pki`` creates a throwaway CA, server and
client certificates, and a rogue CA with a look-alike client certificate, with ``openssl``.

A missing mosquitto or openssl is a test failure with a clear message, never a skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
START_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 10.0
#: Users of the secured broker and their passwords (test only).
PASSWORDS = {"st-0001": "pw-st-0001", "st-0002": "pw-st-0002", "clinic-ingest": "pw-clinic"}
#: The production ACL (MQTT.md §7.1, with the full topic layout of §6).
ACL = """\
user clinic-ingest
topic read rehab/v1/stations/+/status
topic read rehab/v1/stations/+/summary
topic read rehab/v1/stations/+/selftest
topic read rehab/v1/stations/+/plan/result
topic readwrite rehab/v1/stations/+/plan
topic write rehab/v1/stations/+/ack

# pattern lines apply to every user, %u = username (the certificate CN on the TLS listener)
pattern write rehab/v1/stations/%u/status
pattern write rehab/v1/stations/%u/summary
pattern write rehab/v1/stations/%u/selftest
pattern write rehab/v1/stations/%u/plan/result
pattern read rehab/v1/stations/%u/plan
pattern read rehab/v1/stations/%u/ack
"""


class BrokerError(RuntimeError):
    """mosquitto could not be started or stopped; the message points at its log."""


def require(tool: str) -> str:
    """The path of ``tool``; raises :class:`BrokerError` saying how to install it."""
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise BrokerError(
            f"{tool} is not installed: the MQTT tests need a real broker "
            "(Debian/Ubuntu: apt-get install -y mosquitto mosquitto-clients openssl)"
        )
    return path


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _run(argv: list[str], cwd: Path) -> None:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise BrokerError(f"{' '.join(argv)} failed: {proc.stderr.strip()}")


@dataclass(frozen=True)
class Pki:
    """Throwaway certificates in ``dir``: ``ca.crt``, ``server.{crt,key}``, ``<name>.{crt,key}``
    per client, and ``rogue-ca.crt`` with ``rogue-<name>.{crt,key}`` (same CN, wrong CA)."""

    dir: Path
    clients: tuple[str, ...]

    @property
    def ca(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def rogue_ca(self) -> Path:
        return self.dir / "rogue-ca.crt"

    def client(self, name: str) -> tuple[Path, Path]:
        """``(certificate, key)`` of client ``name`` (CN = name)."""
        return self.dir / f"{name}.crt", self.dir / f"{name}.key"

    def rogue(self, name: str) -> tuple[Path, Path]:
        """A certificate with CN ``name`` issued by the rogue CA."""
        return self.dir / f"rogue-{name}.crt", self.dir / f"rogue-{name}.key"


def make_pki(directory: Path, clients: tuple[str, ...] = tuple(PASSWORDS)) -> Pki:
    """Create a CA, a server certificate for localhost/127.0.0.1, one client certificate per
    name, and a rogue CA issuing ``rogue-<name>`` for every name (MQTT.md §7.2; EC P-256
    keys, which openssl makes much faster than RSA)."""
    openssl = require("openssl")
    directory.mkdir(parents=True, exist_ok=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_ext = [
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]
    for ca in ("ca", "rogue-ca"):
        _run(
            [
                openssl,
                "req",
                "-x509",
                *key,
                "-keyout",
                f"{ca}.key",
                "-out",
                f"{ca}.crt",
                "-days",
                "30",
                "-subj",
                f"/CN=Test {ca}",
                *ca_ext,
            ],
            directory,
        )
    (directory / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
    )
    (directory / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    issued = [("ca", "server", "localhost", "server.ext")]
    issued += [("ca", c, c, "client.ext") for c in clients]
    issued += [("rogue-ca", f"rogue-{c}", c, "client.ext") for c in clients]
    for ca, name, cn, ext in issued:
        _run(
            [
                openssl,
                "req",
                *key,
                "-keyout",
                f"{name}.key",
                "-out",
                f"{name}.csr",
                "-subj",
                f"/CN={cn}",
            ],
            directory,
        )
        _run(
            [
                openssl,
                "x509",
                "-req",
                "-in",
                f"{name}.csr",
                "-CA",
                f"{ca}.crt",
                "-CAkey",
                f"{ca}.key",
                "-CAcreateserial",
                "-out",
                f"{name}.crt",
                "-days",
                "30",
                "-extfile",
                ext,
            ],
            directory,
        )
    return Pki(directory, tuple(clients))


@dataclass(frozen=True)
class BrokerAuth:
    """The secured layout: users/passwords, the ACL text, and the PKI for mutual TLS."""

    pki: Pki
    passwords: dict[str, str] = field(default_factory=lambda: dict(PASSWORDS))
    acl: str = ACL


class Broker:
    """One mosquitto process on a fixed loopback port (kept across restarts).

    ``autosave_interval_s`` (mosquitto default 1800) sets how much a SIGKILL loses;
    ``max_queued_messages`` is raised from mosquitto's 1000 so queued test streams are not
    silently dropped; ``max_packet_size`` (bytes, whole packet) is announced to MQTT v5
    clients in the CONNACK, and a client sending a larger packet is disconnected."""

    def __init__(
        self,
        workdir: Path,
        *,
        auth: BrokerAuth | None = None,
        autosave_interval_s: int = 1800,
        max_queued_messages: int = 10_000,
        max_packet_size: int | None = None,
        start: bool = True,
    ) -> None:
        self.exe = require("mosquitto")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir = workdir / "mosquitto-data"
        self.data_dir.mkdir(exist_ok=True)
        self.auth = auth
        self.port = free_port()
        self.tls_port = free_port() if auth else None
        self.conf = workdir / "mosquitto.conf"
        self.log_path = workdir / "mosquitto.log"
        self.conf.write_text(
            self._config(autosave_interval_s, max_queued_messages, max_packet_size)
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        if start:
            self._first_start(autosave_interval_s, max_queued_messages, max_packet_size)

    def _first_start(self, autosave_s: int, max_queued: int, max_packet: int | None) -> None:
        """Start on the ports chosen; another process (a parallel test worker) may have
        taken one since :func:`free_port` saw it free: then choose again, twice at most.
        Restarts keep the ports (a client reconnects to the same one)."""
        for attempt in range(3):
            try:
                self.start()
                return
            except BrokerError:
                if attempt == 2 or "Address already in use" not in self.log_text():
                    raise
            self.port = free_port()
            self.tls_port = free_port() if self.auth else None
            self.conf.write_text(self._config(autosave_s, max_queued, max_packet))
            self.log_path.unlink(missing_ok=True)

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:<port>``: the plain (or username/password) listener."""
        return f"mqtt://{HOST}:{self.port}"

    @property
    def tls_url(self) -> str:
        """``mqtts://127.0.0.1:<tls_port>``: the mutual-TLS listener (secured broker only)."""
        if self.tls_port is None:
            raise BrokerError("this broker has no TLS listener (pass auth=BrokerAuth(...))")
        return f"mqtts://{HOST}:{self.tls_port}"

    def _config(
        self, autosave_interval_s: int, max_queued: int, max_packet_size: int | None
    ) -> str:
        lines = [
            # As root, mosquitto drops privileges to user "mosquitto", which cannot enter
            # pytest's 0700 temporary directories, so it could neither save its database
            # nor read the test certificates (MQTT.md §7.1). A test broker stays root.
            *(["user root"] if os.geteuid() == 0 else []),
            "persistence true",
            f"persistence_location {self.data_dir}/",
            f"autosave_interval {autosave_interval_s}",
            "log_dest stderr",
            "log_type all",
            f"max_queued_messages {max_queued}",
            *([f"max_packet_size {max_packet_size}"] if max_packet_size else []),
        ]
        if self.auth is None:
            lines += [
                "per_listener_settings false",
                f"listener {self.port} {HOST}",
                "allow_anonymous true",
            ]
            return "\n".join(lines) + "\n"
        passwd, acl = self._write_auth(self.auth)
        pki = self.auth.pki
        lines = ["per_listener_settings true", *lines]
        lines += [
            f"listener {self.port} {HOST}",
            "allow_anonymous false",
            f"password_file {passwd}",
            f"acl_file {acl}",
        ]
        lines += [
            f"listener {self.tls_port} {HOST}",
            "allow_anonymous false",
            f"cafile {pki.ca}",
            f"certfile {pki.dir / 'server.crt'}",
            f"keyfile {pki.dir / 'server.key'}",
            "require_certificate true",
            "use_identity_as_username true",
            "tls_version tlsv1.2",
            f"acl_file {acl}",
        ]
        return "\n".join(lines) + "\n"

    def _write_auth(self, auth: BrokerAuth) -> tuple[Path, Path]:
        tool = require("mosquitto_passwd")
        passwd = self.workdir / "passwd"
        passwd.unlink(missing_ok=True)
        for i, (user, pw) in enumerate(auth.passwords.items()):
            create = ["-c"] if i == 0 else []
            _run([tool, *create, "-b", str(passwd), user, pw], self.workdir)
        acl = self.workdir / "acl"
        acl.write_text(auth.acl)
        return passwd, acl

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start mosquitto and wait until its port accepts; raises :class:`BrokerError`."""
        if self.alive:
            return
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"--- start {self.starts} ---\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [self.exe, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        ports = [p for p in (self.port, self.tls_port) if p is not None]
        while ports:
            try:
                socket.create_connection((HOST, ports[0]), 0.2).close()
                ports.pop(0)
                continue
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise BrokerError(f"mosquitto exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise BrokerError(
                    f"mosquitto did not accept within {timeout_s} s:\n{self.log_tail()}"
                )
            time.sleep(0.02)
        # The port accepting is not enough: another process may be listening on it (and
        # mosquitto exiting with "Address already in use"). It is ours once it runs.
        marker = f"--- start {self.starts} ---"
        while " running" not in self.log_text().rpartition(marker)[2]:
            if self.proc.poll() is not None:
                raise BrokerError(f"mosquitto exited at start:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop(signal.SIGKILL)
                raise BrokerError(f"mosquitto did not run within {timeout_s} s:\n{self.log_tail()}")
            time.sleep(0.02)

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Send ``sig`` and wait for the exit (SIGKILL after ``timeout_s``)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout_s)
            raise BrokerError(
                f"mosquitto ignored {signal.Signals(sig).name} for {timeout_s} s"
            ) from None

    def reload_acl(self, acl: str, timeout_s: float = START_TIMEOUT_S) -> None:
        """Replace the ACL file and make the running broker reload it (SIGHUP), as an
        administrator fixing a station's permissions would; waits for the reload."""
        if self.auth is None or self.proc is None:
            raise BrokerError("reload_acl needs a running broker with auth")
        before = self.log_text().count("Reloading config")
        (self.workdir / "acl").write_text(acl)
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout_s
        while self.log_text().count("Reloading config") == before:
            if time.monotonic() > deadline:
                raise BrokerError(f"mosquitto did not reload on SIGHUP:\n{self.log_tail()}")
            time.sleep(0.02)

    def restart(self, sig: int = signal.SIGTERM, down_s: float = 0.0) -> None:
        """An outage: stop with ``sig``, stay down ``down_s`` seconds, start again."""
        self.stop(sig)
        if down_s > 0:
            time.sleep(down_s)
        self.start()

    def close(self) -> None:
        """Stop (SIGTERM, then SIGKILL) and forget the process; idempotent."""
        try:
            self.stop(signal.SIGTERM)
        finally:
            self.proc = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
