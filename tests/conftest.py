"""Shared fixtures: a simulated clock and station bus for the driver tests; calibration
records of simulated stations, made once per test process; MQTT: a real mosquitto per test
(``tests/mqtt_broker.py``)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_broker import Broker, BrokerAuth, BrokerError, Pki, make_pki

from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from station import config as config_mod


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core. About half of the suite's wall time is spent
    waiting (brokers restarting, station and clinic processes, TLS handshakes, reconnect
    back-off), so one worker per core leaves the cores idle for much of the run."""
    return 2 * len(os.sched_getaffinity(0))


@pytest.fixture
def clock() -> SimClock:
    """A fresh simulated clock at 0 s."""
    return SimClock()


@pytest.fixture
def bus(clock: SimClock) -> SimI2CBus:
    """The station bus as the driver tests use it: simulated, 400 kHz, on ``clock``."""
    return SimI2CBus(clock, speed_hz=400_000, name="station")


#: Config sections the simulated technician's records do not depend on.
_NOT_CALIBRATION = ("station", "data", "mqtt", "safety")


class SimCalibrations:
    """Calibration records of simulated stations, made by the simulated technician once per
    (config, seed) and copied into each test's data directory.

    The simulation is deterministic, so the records are the ones a station opened in the
    test's own directory would make (but for their date): the test then starts at once
    instead of loading nine weights on every pad and calibrating every motor first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[str, Path] = {}

    def records(self, cfg: config_mod.Config, seed: int) -> Path:
        """The directory of calibration records of station ``cfg`` with world ``seed``."""
        from station.app import App

        parts = {k: v for k, v in cfg.values.items() if k not in _NOT_CALIBRATION}
        text = json.dumps([parts, seed], sort_keys=True, default=str)
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        if key not in self._made:
            d = self.root / f"seed{seed}-{key}"
            App(cfg, d, sim=True, seed=seed).open().close()
            records = d / "calibration"
            assert any(records.glob("pad-*.json")), sorted(records.iterdir())
            self._made[key] = records
        return self._made[key]

    def data_dir(self, data_dir: Path, cfg: config_mod.Config, seed: int) -> Path:
        """``data_dir`` (made if missing) with the records of ``cfg`` and ``seed`` in it."""
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.records(cfg, seed), data_dir / "calibration")
        return data_dir


@pytest.fixture(scope="session")
def sim_calibrations(tmp_path_factory: pytest.TempPathFactory) -> SimCalibrations:
    """Calibration records of simulated stations, made once per test process (per xdist
    worker) for each config and seed asked for."""
    return SimCalibrations(tmp_path_factory.mktemp("sim-calibrations"))


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
