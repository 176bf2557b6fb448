"""Why the station cannot reach the broker, against a real mosquitto with TLS: the reason is
named in the log (once per change) and recorded where ``rehab-station outbox`` shows it."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli import rehab_station
from mqtt_broker import Broker, BrokerAuth, Pki, free_port, require
from mqtt_helpers import FAST, wait_until

from mqtt_bridge import linkerror, outbox
from mqtt_bridge.client import StationClient

#: Failed attempts to wait for: more than one, so a second line in the log would show.
ATTEMPTS = 3

CA_CONF = """\
[ca]
default_ca = test_ca
[test_ca]
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
"""


def reissued_server(
    pki: Pki,
    directory: Path,
    *,
    ca: str = "ca",
    san: str = "DNS:localhost,IP:127.0.0.1",
    **dates: str,
) -> Pki:
    """A copy of ``pki`` whose broker certificate is issued again by ``ca`` for ``san``;
    ``startdate``/``enddate`` (``YYYYMMDDHHMMSSZ``) give it other validity dates."""
    openssl = require("openssl")
    shutil.copytree(pki.dir, directory)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("1000\n")
    (directory / "ca.conf").write_text(CA_CONF.format(dir=directory))

    def run(*argv: str) -> None:
        proc = subprocess.run([openssl, *argv], cwd=directory, capture_output=True, timeout=60)
        assert proc.returncode == 0, proc.stderr.decode()

    run(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=broker",
        "-addext", f"subjectAltName={san}", "-addext", "extendedKeyUsage=serverAuth",
    )  # fmt: skip
    validity = [a for k, v in dates.items() for a in (f"-{k}", v)] or ["-days", "30"]
    run(
        "ca", "-batch", "-config", "ca.conf", "-cert", f"{ca}.crt", "-keyfile", f"{ca}.key",
        "-in", "server.csr", "-out", "server.crt", "-notext", *validity,
    )  # fmt: skip
    return Pki(directory, pki.clients)


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[Any]:
    """Start a broker (closed at the end of the test) with the given ``Broker`` arguments."""
    started: list[Broker] = []

    def make(name: str, **kw: Any) -> Broker:
        b = Broker(tmp_path / name, **kw)
        started.append(b)
        return b

    yield make
    for b in started:
        b.close()


def client(db: Path, port: int, host: str = "127.0.0.1", **kw: Any) -> StationClient:
    sc = StationClient("st-0001", host, port, db_path=db, **{**FAST, **kw})
    sc.start()
    return sc


def failing(sc: StationClient, n: int = ATTEMPTS) -> str:
    """The reason, once ``n`` attempts failed and the link state is on disk."""
    wait_until(lambda: sc.stats.connect_failures >= n, what=f"{n} failed connects")
    wait_until(lambda: outbox.read_link(sc.db_path) is not None, what="link state recorded")
    return sc.stats.last_connect_error


def link_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "mqtt_bridge.client" and r.levelno >= logging.WARNING
    ]


CASES = [
    # (case, kind, words of the detail)
    ("station trusts another CA", linkerror.CERT_VERIFY, "not signed by the CA in mqtt.ca_file"),
    ("rogue server certificate", linkerror.CERT_VERIFY, "not signed by the CA in mqtt.ca_file"),
    ("expired server certificate", linkerror.CERT_VERIFY, "certificate has expired"),
    ("certificate for another name", linkerror.HOSTNAME, "not valid for '127.0.0.1'"),
    ("station certificate of a rogue CA", linkerror.CLIENT_CERT, "mqtt.cert_file"),
    ("plain TCP to the TLS port", linkerror.CLOSED, "reset the connection"),
    ("nothing listening", linkerror.REFUSED, "nothing listens on that port"),
    ("wrong password", linkerror.NOT_AUTHORISED, "mqtt.password_env"),
    ("unknown broker name", linkerror.DNS, "'no-such-broker.invalid' cannot be resolved"),
    ("broker never answers", linkerror.TIMEOUT, "no answer within 0.3 s"),
]


@pytest.mark.parametrize(("case", "kind", "words"), CASES, ids=[c[0] for c in CASES])
def test_mqtt_link_errors_reason_is_named_logged_once_and_recorded(
    secure_broker: Broker,
    pki: Pki,
    make_broker: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    case: str,
    kind: str,
    words: str,
) -> None:
    """Before, every one of these logged "could not connect ...; retrying" at each retry,
    and the outbox command showed nothing of it."""
    db = tmp_path / "station.db"
    own = {"ca_file": str(pki.ca), "cert_file": str(pki.client("st-0001")[0])}
    own["key_file"] = str(pki.client("st-0001")[1])
    tls_port = secure_broker.tls_port or 0
    silent = socket.create_server(("127.0.0.1", 0))  # accepts TCP, never speaks

    def other_server(**kw: Any) -> int:
        b = make_broker("other", auth=BrokerAuth(reissued_server(pki, tmp_path / "pki", **kw)))
        return int(b.tls_port or 0)

    starts = {
        "station trusts another CA": lambda: client(
            db, tls_port, **{**own, "ca_file": str(pki.rogue_ca)}
        ),
        "rogue server certificate": lambda: client(db, other_server(ca="rogue-ca"), **own),
        "expired server certificate": lambda: client(
            db, other_server(startdate="20200101000000Z", enddate="20200201000000Z"), **own
        ),
        "certificate for another name": lambda: client(
            db, other_server(san="DNS:broker.example.org"), **own
        ),
        "station certificate of a rogue CA": lambda: client(
            db,
            tls_port,
            ca_file=str(pki.ca),
            cert_file=str(pki.rogue("st-0001")[0]),
            key_file=str(pki.rogue("st-0001")[1]),
        ),
        "plain TCP to the TLS port": lambda: client(db, tls_port),
        "nothing listening": lambda: client(db, free_port()),
        "wrong password": lambda: client(
            db, secure_broker.port, username="st-0001", password="guess"
        ),
        "unknown broker name": lambda: client(db, 8883, host="no-such-broker.invalid"),
        "broker never answers": lambda: client(
            db, silent.getsockname()[1], connect_timeout_s=0.3, **own
        ),
    }  # fmt: skip
    caplog.set_level(logging.DEBUG, logger="mqtt_bridge.client")
    sc = starts[case]()
    try:
        reason = failing(sc)
        assert not sc.connected
    finally:
        sc.close()
        silent.close()
    assert reason.startswith(f"{kind}: ") and words in reason, reason
    logged = link_errors(caplog)
    if kind == linkerror.CLIENT_CERT:
        # TLS 1.3 checks the station's certificate after the station's side of the
        # handshake is done: a broker closing on the CONNECT it has not read can reset the
        # connection before its alert is read, so an attempt may first read as closed.
        closed = f"cannot connect to {sc.broker}: {linkerror.CLOSED}: "
        logged = [line for line in logged if not line.startswith(closed)]
    assert logged == [f"cannot connect to {sc.broker}: {reason}; retrying"]
    link = outbox.read_link(db)
    assert link is not None
    assert (link["broker"], link["last_error"]) == (sc.broker, reason)
    assert link["state"] == outbox.LINK_STOPPED  # close() records that the client ended


def test_mqtt_link_errors_change_of_reason_and_recovery_are_shown_by_outbox(
    make_broker: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused while the broker is down (logged once), connected when it comes up, then the
    connection lost and refused again: each change logged once and shown by the command."""
    caplog.set_level(logging.DEBUG, logger="mqtt_bridge.client")
    b = make_broker("plain", start=False)
    db = tmp_path / "station.db"
    sc = client(db, b.port)
    try:
        refused = failing(sc)
        assert refused.startswith(f"{linkerror.REFUSED}: ")
        down = outbox.read_link(db)
        assert down is not None and down["state"] == outbox.LINK_DOWN
        b.start()
        assert sc.wait_connected(15.0)
        wait_until(lambda: (outbox.read_link(db) or {})["state"] == outbox.LINK_CONNECTED)
        up = outbox.read_link(db)
        assert up is not None
        assert (up["last_error"], up["last_error_at"]) == (refused, down["last_error_at"])
        text = outbox_cmd(tmp_path)
        assert f"link to the broker {sc.broker}: connected since {up['since']}" in text
        assert f"last link error, first seen {down['last_error_at']}: {refused}" in text

        failures = sc.stats.connect_failures
        b.stop(signal.SIGKILL)
        failing(sc, failures + ATTEMPTS)
        wait_until(lambda: (outbox.read_link(db) or {})["last_error"] == refused)
        again = json.loads(outbox_cmd(tmp_path, "--json"))["link"]
        assert again["state"] == outbox.LINK_DOWN and again["last_error"] == refused
        assert "NOT connected since" in outbox_cmd(tmp_path)
    finally:
        sc.close()
    logged = link_errors(caplog)
    assert logged[0] == f"cannot connect to {sc.broker}: {refused}; retrying"
    assert logged[1].startswith(f"disconnected from {sc.broker}: {linkerror.LOST}: ")
    assert logged[2:] == logged[:1]  # refused again: once, however many retries


def outbox_cmd(data_dir: Path, *extra: str) -> str:
    proc = rehab_station("outbox", "--sim", "--data-dir", str(data_dir), *extra)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def test_mqtt_link_errors_outbox_without_a_recorded_link_says_so(tmp_path: Path) -> None:
    outbox.connect(tmp_path / "station.db").close()
    assert "link to the broker: not recorded yet" in outbox_cmd(tmp_path)
    assert json.loads(outbox_cmd(tmp_path, "--json"))["link"] is None


@pytest.mark.parametrize(
    ("code", "message", "kind", "words"),
    [
        (9, "certificate is not yet valid", linkerror.CERT_VERIFY, "station's clock"),
        (18, "self-signed certificate", linkerror.CERT_VERIFY, "mqtt.ca_file"),
        (62, "Hostname mismatch", linkerror.HOSTNAME, "not valid for 'broker.local'"),
    ],
)
def test_mqtt_link_errors_verify_codes(code: int, message: str, kind: str, words: str) -> None:
    """The verify codes the broker tests above do not reach (a station clock before the
    certificate's start, a self-signed broker certificate, a DNS name mismatch)."""
    exc = ssl.SSLCertVerificationError(1, f"certificate verify failed: {message}")
    exc.verify_code, exc.verify_message = code, message
    reason = linkerror.from_exception(exc, "broker.local", 5.0)
    assert reason.kind == kind and words in str(reason)


def test_mqtt_link_errors_record_link_keeps_since_and_first_seen_times(tmp_path: Path) -> None:
    db = tmp_path / "station.db"
    with outbox.Outbox(db) as ob:
        ob.record_link("b:8883", outbox.LINK_DOWN, "timeout: x", "T1")
        ob.record_link("b:8883", outbox.LINK_DOWN, "timeout: x", "T2")  # a retry: no news
        assert ob.link() == {
            "broker": "b:8883",
            "state": outbox.LINK_DOWN,
            "since": "T1",
            "last_error": "timeout: x",
            "last_error_at": "T1",
        }
        ob.record_link("b:8883", outbox.LINK_DOWN, "connection refused: y", "T3")
        down = ob.link()
        assert down is not None and (down["since"], down["last_error_at"]) == ("T1", "T3")
        ob.record_link("b:8883", outbox.LINK_CONNECTED, None, "T4")
    up = outbox.read_link(db)
    assert up is not None
    assert (up["state"], up["since"], up["last_error"], up["last_error_at"]) == (
        outbox.LINK_CONNECTED,
        "T4",
        "connection refused: y",
        "T3",
    )
