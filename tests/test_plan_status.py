"""The station tells the clinic about its plan, over a real mosquitto: the status names the
active plan's state (a stored plan this version refuses, and why), and a plan whose caps
are above the station's is accepted with the caps that apply named in its answer."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mqtt_broker import Broker
from mqtt_helpers import WAIT_S, Clinic
from plans import example_plan
from test_session_e2e import lcd_text

from mqtt_bridge import outbox, plans, schema
from mqtt_bridge.clinic import BrokerOptions
from mqtt_bridge.sendplan import send_plan
from station import config as config_mod
from station.app import App
from station.paths import station_db

MISSPELT = (
    "schedule[0].params.trials_per_hnd: unknown parameter; known: hands, pad, trials_per_hand"
)


def station_config(broker: Broker, **safety: Any) -> config_mod.Config:
    return config_mod.validate(
        {
            "glove": {"fitted": False},
            "mqtt": {"enabled": True, "broker": broker.url},
            "safety": safety,
        }
    )


def store_as_an_older_version_did(data_dir: Path, plan: dict[str, Any]) -> None:
    """Put ``plan`` in the station database unchecked, as an earlier software version that
    accepted it would have stored it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    conn = outbox.connect(station_db(data_dir))
    try:
        plans.ensure_tables(conn)
        plans.store_plan(conn, plan, "2026-11-20T10:00:01Z")
    finally:
        conn.close()


def next_status(clinic: Clinic) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(clinic.next("/status").payload)
    assert schema.errors(doc, schema.load("rehab.status/1")) == []
    return doc


@pytest.fixture
def clinic(broker: Broker) -> Iterator[Clinic]:
    c = Clinic(broker.port)
    try:
        yield c
    finally:
        c.close()


def test_station_with_a_stored_plan_it_refuses_says_so_in_its_status(
    broker: Broker, clinic: Clinic, tmp_path: Path
) -> None:
    cfg = station_config(broker)
    sid = cfg.station_id
    store_as_an_older_version_did(
        tmp_path, example_plan(station_id=sid, schedule__0__params__trials_per_hnd=6)
    )
    app = App(cfg, tmp_path, sim=True, calibrate_sim=False).open()
    try:
        status = next_status(clinic)
        assert (status["state"], status["plan_version"]) == ("online", 3)
        assert status["plan"] == {"version": 3, "state": "refused", "reason": MISSPELT}
        assert app.plan() is None  # the station runs no plan it refuses
        assert app.run_session() is None
        assert lcd_text(app).startswith("Your plan cannot be used here.")
    finally:
        app.close()


def test_station_accepts_a_plan_above_its_caps_names_them_and_updates_its_status(
    broker: Broker, clinic: Clinic, tmp_path: Path
) -> None:
    cfg = station_config(broker, max_force_n=30.0)
    sid = cfg.station_id
    app = App(cfg, tmp_path, sim=True, calibrate_sim=False).open()
    try:
        assert next_status(clinic)["plan"] == {"version": None, "state": "none", "reason": ""}
        data = json.dumps(example_plan(station_id=sid, caps__max_force_n=40)).encode()
        result = send_plan(
            BrokerOptions(broker.url, f"t-{uuid.uuid4().hex[:8]}"), sid, data, WAIT_S
        )
        assert result.describe() == (
            "accepted: plan_version 3; the station's caps apply: max_force_n 40 -> 30 N"
        )
        status = next_status(clinic)
        assert (status["plan_version"], status["plan"]) == (
            3,
            {"version": 3, "state": "in_force", "reason": ""},
        )
        plan = app.plan()
        assert plan is not None
        assert plan.effective_caps(cfg["safety"]).max_force_n == 30.0
    finally:
        app.close()
