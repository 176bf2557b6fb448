"""Start-up after a power cut: interrupted sessions end when they really ended, a session
that cannot be summarised does not keep the station (and its link to the clinic) down, and
closing never raises."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from mqtt_bridge import clocks
from mqtt_bridge.clocks import ManualClock
from station import config
from station.app import App
from station.journal import Journal, Trial
from station.paths import station_db

SEED = 3


def sim(**sections: dict) -> config.Config:
    return config.validate({"glove": {"fitted": False}, **sections})


def interrupted_session(data_dir: Path, clock: ManualClock | None = None) -> tuple[int, str]:
    """A session journalled up to one trial (``clock``: 4 s after its start), then the power
    went (never ended)."""
    j = Journal(station_db(data_dir), clock.wall if clock else clocks.utc_now)
    sid = j.start_session(1, ["max_grip"])
    if clock:
        clock.advance(4.0)
    j.record_trial(
        sid, Trial("max_grip", 0, "right", {}, {"peak_force_n": 9.0}, 0.4, 9.0, 1.0, 4.0)
    )
    (last,) = [r[0] for r in j.conn.execute("SELECT ended_at FROM trials WHERE session_id=?",
                                            (sid,))]  # fmt: skip
    j.close()
    return sid, last


def test_app_recovered_session_ends_at_its_last_trial_not_at_the_restart(tmp_path: Path) -> None:
    clock = ManualClock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC))
    # a calibrated station, no session
    App(sim(), tmp_path, sim=True, seed=SEED, wall_clock=clock.wall).open().close()
    sid, last_trial = interrupted_session(tmp_path, clock)
    clock.advance(6 * 3600.0)  # the power comes back six hours later
    restart = clocks.iso_utc(clock.wall())
    app = App(sim(), tmp_path, sim=True, seed=SEED, wall_clock=clock.wall).open()
    try:
        assert app.journal is not None and len(app.recovered) == 1
        s = app.journal.session(sid)
        assert (s["started_at"], last_trial) == (
            "2026-11-20T10:00:00.000Z",
            "2026-11-20T10:00:04.000Z",
        )
        assert (s["state"], s["ended_at"]) == ("incomplete", last_trial)  # not the restart
        events = [(e["kind"], e["at"]) for e in app.journal.events(sid)]
        assert events == [("interrupted", restart)]  # the restart is when it was found
        assert restart == "2026-11-20T16:00:04.000Z"
        # the summary the clinic gets: four seconds of session, written at the restart
        (created_at, body) = app.journal.conn.execute(
            "SELECT created_at, body FROM outbox WHERE msg_id=?", (app.recovered[0],)
        ).fetchone()
        assert created_at == restart
        summary = json.loads(body)
        assert (summary["started_at"], summary["ended_at"]) == (s["started_at"], last_trial)
        assert summary["adherence"]["minutes"] == round(4.0 / 60.0, 2)
    finally:
        app.close()


def test_app_opens_when_a_session_cannot_be_summarised(tmp_path: Path) -> None:
    """The outbox is full: a summary cannot be queued. The station still opens (and would
    connect to drain the outbox); that session stays unsummarised for the next start."""
    App(sim(), tmp_path, sim=True, seed=SEED).open().close()
    sids = [interrupted_session(tmp_path)[0] for _ in range(11)]
    app = App(sim(mqtt={"outbox_max_rows": 10}), tmp_path, sim=True, seed=SEED).open()
    try:
        assert app.journal is not None
        assert len(app.recovered) == 10  # the outbox holds 10; the 11th is refused
        assert app.journal.unsummarised() == [sids[-1]]
    finally:
        app.close()
    # room again (a larger outbox, or the clinic acknowledged): the next start queues it
    again = App(sim(), tmp_path, sim=True, seed=SEED).open()
    try:
        assert again.journal is not None and again.journal.unsummarised() == []
        assert len(again.recovered) == 1
    finally:
        again.close()


def test_app_close_never_raises_when_a_motor_cannot_be_stopped(tmp_path: Path) -> None:
    app = App(sim(), tmp_path, sim=True, seed=SEED).open()
    st = app.station
    assert st is not None and st.sim is not None and st.haptics is not None
    st.haptics.drive_raw(1, 0.5)
    st.sim.buses["station"].nack(0x5A)  # every motor unreachable from now on
    app.close()  # logged, not raised; everything after motors-off was still closed
    assert app.station is None and app.journal is None
