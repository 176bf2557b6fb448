"""Shared fixtures: a simulated clock and station bus for the driver tests; MQTT: a real
mosquitto per test (``tests/mqtt_broker.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_broker import Broker, BrokerAuth, BrokerError, Pki, make_pki

from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock


@pytest.fixture
def clock() -> SimClock:
    """A fresh simulated clock at 0 s."""
    return SimClock()


@pytest.fixture
def bus(clock: SimClock) -> SimI2CBus:
    """The station bus as the driver tests use it: simulated, 400 kHz, on ``clock``."""
    return SimI2CBus(clock, speed_hz=400_000, name="station")


def _start(make: object) -> Broker:
    try:
        return make()  # type: ignore[operator]
    except BrokerError as exc:  # missing tool or broker crash: fail loudly, never skip
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A plain anonymous mosquitto on a free loopback port, persistence in ``tmp_path``.

    ``broker.url``, ``broker.port``, ``broker.stop(sig)``, ``broker.restart(sig, down_s)``."""
    b = _start(lambda: Broker(tmp_path / "broker"))
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Throwaway CA, server and client certificates (st-0001, st-0002, clinic-ingest) and a
    rogue CA with look-alike client certificates; made once per test session."""
    try:
        return make_pki(tmp_path_factory.mktemp("pki"))
    except BrokerError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def secure_broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    """mosquitto with a username/password listener (``url``) and a mutual-TLS listener
    (``tls_url``, CN = username), both enforcing the station ACL (``mqtt_broker.ACL``)."""
    b = _start(lambda: Broker(tmp_path / "secure-broker", auth=BrokerAuth(pki)))
    try:
        yield b
    finally:
        b.close()
