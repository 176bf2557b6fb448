"""The app's lifecycle: one station, one journal and one MQTT client per start, however the
commands enter it, and all of them closed at the end."""

from __future__ import annotations

import re
from pathlib import Path

from mqtt_broker import Broker
from test_station_process import (  # noqa: F401  (calibration, data_dir, stations: fixtures)
    STATION_ID,
    Stations,
    calibration,
    data_dir,
    stations,
)

from station import config
from station.app import App


def connections(broker: Broker, client_id: str) -> int:
    """How many times ``client_id`` connected, from the broker's own log."""
    pattern = re.compile(rf"New client connected from \S+ as {re.escape(client_id)} ")
    return len(pattern.findall(broker.log_text()))


def test_app_entered_after_open_keeps_its_one_station(tmp_path: Path) -> None:
    cfg = config.validate({"glove": {"fitted": False}})
    app = App(cfg, tmp_path, sim=True, seed=1, calibrate_sim=False).open()
    station, journal = app.station, app.journal
    assert station is not None and journal is not None
    with app as entered:  # what ``run`` and ``session`` do with the opened app
        assert entered is app
        assert (app.station, app.journal) == (station, journal)
    assert not app.is_open and app.station is None and app.journal is None


def test_run_sim_connects_to_the_broker_once(
    broker: Broker,
    stations: Stations,  # noqa: F811  (the fixtures imported above)
    data_dir: Path,  # noqa: F811
) -> None:
    r = stations.run(
        "run", "--sim", "--speed", "0", "--quiet", "--data-dir", str(data_dir),
        "--broker", broker.url, name="run",
    )  # fmt: skip
    assert r.rc == 0, r
    assert connections(broker, STATION_ID) == 1, broker.log_tail(60)
    assert "already connected" not in broker.log_text()
