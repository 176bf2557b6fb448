"""A simulated month of one virtual patient, through the whole chain, checked against the
patient's truth: the simulated station runs each session (the patient acts on the LCD,
buttons and pads only), its outbox messages go through a real mosquitto to the clinic
consumer, into a real SQLite clinic database, and the report is read from there.

Five sessions over two and a half weeks, kept cheap (one squeeze per hand): typical days, a
pain flare that fires the pain-rise stop rule, a day the station's clock was not
synchronised (the Pi booted at 1970, as one without a real-time clock does), and a session
killed by SIGTERM after the first squeeze.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from conftest import SimCalibrations
from mqtt_broker import Broker
from paho.mqtt.enums import CallbackAPIVersion

from mqtt_bridge import clinic_settings, envelope
from mqtt_bridge.clinic import BrokerOptions, Ingest, make_client, parse_broker_url
from mqtt_bridge.clinic_db import ClinicDB
from mqtt_bridge.clinic_report import build_report
from mqtt_bridge.clinic_text import format_text
from mqtt_bridge.outbox import Outbox
from sensors.force_pads import PAD_TOLERANCE
from station import config as config_mod
from station.app import App
from station.paths import station_db
from station.plan import default_sim_plan
from station.plan import from_dict as plan_from_dict
from station.sim.patient import VirtualPatient

SEED = 3  # the seed of test_session_e2e: the calibration records are made once for both
WAIT_S = 10.0
DAY0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)  # a Monday, ISO week 2026-W45
EPOCH = dt.datetime(1970, 1, 1, 0, 2, tzinfo=dt.UTC)  # a Pi without RTC, not yet synced
#: (day, profile, clock synchronised, killed before the second hand)
MONTH = [
    (0, "typical", True, False),
    (2, "typical", True, False),
    (7, "pain_flare", True, False),
    (9, "typical", False, False),
    (14, "typical", True, True),
]
TRUE_GRIP_N = {"right": 9.0, "left": 14.0}  # the patient's truth (station.sim.patient)


class Wall:
    """The wall clock of both sides: the station's (1970 on an unsynchronised day) and the
    clinic's (always right)."""

    def __init__(self) -> None:
        self.clinic = DAY0
        self.station = DAY0

    def station_now(self) -> dt.datetime:
        return self.station

    def clinic_now(self) -> dt.datetime:
        return self.clinic


def config() -> config_mod.Config:
    # The defaults: right-handed, the right hand injured (the dominant one).
    return config_mod.validate({"glove": {"fitted": False}})


def plan(app: App) -> Any:
    raw = json.loads(json.dumps(default_sim_plan(app.config.station_id, DAY0.date()).raw))
    raw["schedule"][0]["params"]["trials_per_hand"] = 1
    return plan_from_dict(raw, app.config.station_id)


def kill_at_the_left_hand(app: App) -> None:
    """SIGTERM (``systemctl stop``) when the LCD asks for the left hand's squeeze: the
    right hand's trial is journalled, the left hand's never starts."""
    st = app.station
    assert st is not None and st.sim is not None
    sim = st.sim

    def look() -> None:
        text = " ".join(sim.lcd_lines())
        if "Squeeze" in text and "left" in text:
            handle.cancel()
            signal.raise_signal(signal.SIGTERM)

    handle = st.clock.every(0.01, look, "kill-at-the-left-hand")


class Clinic:
    """The clinic consumer in a thread, and a station-side publisher of outbox rows."""

    def __init__(self, url: str, db: ClinicDB, station_id: str) -> None:
        self.stop = threading.Event()
        client, connect = make_client(BrokerOptions(url, "clinic-month"))
        self.ingest = Ingest(client, db)
        self.thread = threading.Thread(
            target=self.ingest.run, args=(self.stop,), kwargs={"connect": connect}, daemon=True
        )
        self.thread.start()
        assert self.ingest.subscribed.wait(WAIT_S)
        host, port, _ = parse_broker_url(url)
        self.acks: queue.Queue[list[str]] = queue.Queue()
        ready = threading.Event()
        self.pub = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="st-month", protocol=mqtt.MQTTv5
        )
        self.pub.on_connect = lambda c, u, f, rc, p: c.subscribe(
            f"rehab/v1/stations/{station_id}/ack", qos=1
        )
        self.pub.on_subscribe = lambda c, u, mid, rcs, p: ready.set()
        self.pub.on_message = lambda c, u, m: self.acks.put(json.loads(m.payload)["msg_ids"])
        self.pub.connect(host, port)
        self.pub.loop_start()
        assert ready.wait(WAIT_S)

    def deliver(self, data_dir: Path, station_id: str) -> None:
        """Publish what waits in the station's outbox and wait for the clinic's acks."""
        with Outbox(station_db(data_dir)) as box:
            entries = box.due(now_mono=1e12, limit=100)
            for e in entries:
                topic = f"rehab/v1/stations/{station_id}/{e.kind}"
                info = self.pub.publish(topic, e.payload(station_id), qos=1)
                info.wait_for_publish(WAIT_S)
            want, seen = {e.msg_id for e in entries}, set()
            while not want <= seen:
                seen.update(self.acks.get(timeout=WAIT_S))
            box.acknowledge(want)

    def close(self) -> None:
        self.pub.disconnect()
        self.pub.loop_stop()
        self.stop.set()
        self.thread.join(WAIT_S)


def run_month(tmp: Path, calibration: Path, broker: Broker) -> tuple[dict[str, Any], list]:
    wall = Wall()
    data = tmp / "station"
    shutil.copytree(calibration, data / "calibration")
    db = ClinicDB(tmp / "clinic.db", wall_clock=wall.clinic_now)
    truths: list[dict[str, list[float]]] = []
    app = App(
        config(),
        data,
        sim=True,
        seed=SEED,
        wall_clock=wall.station_now,
        today=lambda: wall.clinic.date(),
    ).open()
    clinic = Clinic(broker.url, db, app.config.station_id)
    synced_now = [True]
    real_synced = envelope.clock_synced
    envelope.clock_synced = lambda: synced_now[0]  # the kernel's answer, per simulated day
    try:
        for day, profile, synced, killed in MONTH:
            wall.clinic = DAY0 + dt.timedelta(days=day)
            wall.station = wall.clinic if synced else EPOCH
            synced_now[0] = synced
            st = app.station
            assert st is not None and st.sim is not None
            p: VirtualPatient = st.sim.patient(
                profile, st.clock, app.config["buttons"], seed=SEED + day
            )
            p.start()
            if killed:
                kill_at_the_left_hand(app)
            outcome = app.run_session(plan(app))
            p.stop()
            assert outcome is not None
            truths.append(p.targets)
            wall.clinic += dt.timedelta(minutes=20)  # the summary reaches the clinic later
            clinic.deliver(data, app.config.station_id)
        clinic_settings.set_handedness(db, app.config.station_id, "right")
        report = build_report(db, now=DAY0 + dt.timedelta(days=16))
    finally:
        envelope.clock_synced = real_synced
        clinic.close()
        app.close()
        db.close()
    return report, truths


@pytest.fixture(scope="module")
def month(
    tmp_path_factory: pytest.TempPathFactory, sim_calibrations: SimCalibrations
) -> Iterator[tuple[dict[str, Any], list]]:
    tmp = tmp_path_factory.mktemp("month")
    broker = Broker(tmp / "broker")
    try:
        yield run_month(tmp, sim_calibrations.records(config(), SEED), broker)
    finally:
        broker.close()


def test_clinic_month_grip_per_session_is_the_patients_truth(month: Any) -> None:
    """Every session's grip, as the report shows it, is what the patient squeezed (within
    the pads' stated tolerance) and names its session; the killed session shows only the
    hand it measured, and the other hand's latest value says it is older."""
    report, truths = month
    (st,) = report["stations"]
    trends = {t["metric"]: t for t in st["trends"]}
    tol = PAD_TOLERANCE
    for role, hand in (("involved", "right"), ("uninvolved", "left")):
        t = trends[f"{role}_mean_force"]
        assert t["hand"] == hand
        for p in t["points"]:
            (squeezed,) = truths[p["session"] - 1][hand]
            assert abs(p["value"] - squeezed) <= tol["abs_n"] + tol["rel"] * squeezed
        # The patient's strength did not change: no real change may be flagged.
        assert not t["flag"], t["judgement"]
    inv = [p["session"] for p in trends["involved_mean_force"]["points"]]
    uninv = [p["session"] for p in trends["uninvolved_mean_force"]["points"]]
    assert (inv, uninv) == ([1, 2, 3, 4, 5], [1, 2, 3, 4])
    latest = {r["metric"]: r for r in st["latest"]}
    assert (latest["involved_mean_force"]["session"], latest["involved_mean_force"]["older"]) == (
        5,
        False,
    )
    assert (
        latest["uninvolved_mean_force"]["session"],
        latest["uninvolved_mean_force"]["older"],
    ) == (
        4,
        True,
    )


def test_clinic_month_symmetry_is_the_truth_adjusted_for_the_dominant_hand(month: Any) -> None:
    """True grips 9 N (right, injured, dominant) and 14 N (left): 64.3 % raw; a right-hander's
    dominant hand is 12.7 % stronger, so 57.0 % of the patient's own balance."""
    report, _ = month
    sym = report["stations"][0]["symmetry"]
    assert (sym["handedness"], sym["involved_hand"], sym["expected_pct"]) == (
        "right",
        "right",
        112.7,
    )
    truth = 100.0 * TRUE_GRIP_N["right"] / TRUE_GRIP_N["left"]
    assert [p["session"] for p in sym["points"]] == [1, 2, 3, 4]  # never session 5 with 4
    for p in sym["points"]:
        assert abs(p["raw_pct"] - truth) <= 2 * p["uncertainty"]
        assert p["adjusted_pct"] == pytest.approx(p["raw_pct"] / 1.1272, abs=0.06)


def test_clinic_month_pain_adherence_and_dates(month: Any) -> None:
    report, _ = month
    (st,) = report["stations"]
    pain = {r["session"]: r for r in st["checkin"]}
    # pain_flare: 2 at check-in, +2 at the next check: the pain-rise rule fired.
    assert (pain[3]["pain_before"], pain[3]["pain_after"], pain[3]["stop_rules"]) == (
        2,
        4,
        ["pain_rise"],
    )
    assert all(pain[n]["stop_rules"] == [] for n in (1, 2, 4, 5))
    assert pain[5]["pain_after"] is None  # killed before the end question
    a = st["adherence"]
    assert (a["sessions"], a["complete"], a["receipt_dated_sessions"]) == (5, 3, 1)
    assert [w["session_numbers"] for w in a["per_week"]] == [[1, 2], [3, 4], [5]]
    # The unsynchronised day is dated by the clinic's receipt, 20 minutes after the session.
    s4 = st["sessions"][3]
    assert (s4["at"], s4["time_source"]) == ("2026-11-11T09:20:00Z", "clinic_receipt")
    assert st["missing_seq"] == []
    text = format_text(report)
    assert "session #5 (2026-11-16): the station was shut down or restarted during the " in text
    assert "(SIGTERM: the service was stopped) [S-SIGNAL]" in text
    assert "date unknown" not in text
