"""Whole sessions on the simulated station, in-process, with the virtual patient (issue 7).

Each test opens the real :class:`station.app.App` on the simulated station (journal and
outbox in ``station.db`` in ``tmp_path``) and lets a virtual patient do the session through
the LCD, the buttons and the pads only. What the session measured, journalled, decided and
queued for the clinic is checked against what the patient really did and what the stop
rules of ``reference/CLINICAL.md`` say.

Most tests run the station without the IMU glove (``sim_config``): no protocol here uses
it, and it is most of the simulation's cost. Vibration is played by a test protocol
(``VibrationProbe``) until the sensory protocols exist. Crash recovery (SIGKILL
mid-session) and the command line are tested as processes in ``test_station_process.py``;
pause and resume in ``test_session_pause.py``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import shutil
import signal
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pytest
from conftest import SimCalibrations
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sensors.force_pads import PAD_TOLERANCE
from sensors.haptics import Stimulus, VibrationCapReached
from station import __version__ as station_version
from station import config as config_mod
from station import runner as runner_mod
from station.app import App
from station.journal import Trial
from station.paths import station_db
from station.plan import (
    CAP_LIMITS,
    DAYS,
    OPTIONAL_CAPS,
    Plan,
    PlanError,
    ScheduleItem,
    default_sim_plan,
)
from station.plan import from_dict as plan_from_dict
from station.protocol_params import IntParam, NumberParam, Param
from station.protocols.base import WAIT_SLICE_S, Protocol, SessionContext
from station.protocols.max_grip import FEEDBACK_S, SQUEEZE_S
from station.protocols.metrics import metric
from station.runner import Outcome
from station.safety import clamp_force_target
from station.sim.patient import PROFILES, VirtualPatient

SEED = 3
#: What a calibrated pad promises (sensors.force_pads): a measured force is within
#: ±(0.3 N + 25 %) of the true one; a grip's measured mean is held to the same.
FORCE_TOL_N, FORCE_TOL_REL = PAD_TOLERANCE["abs_n"], PAD_TOLERANCE["rel"]


# -- the station and the patient ------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrated(sim_calibrations: SimCalibrations) -> Path:
    """Pad and motor calibration records, made once by the simulated technician."""
    return sim_calibrations.records(sim_config(), SEED)


def sim_config(glove: bool = False, **safety: Any) -> config_mod.Config:
    """The built-in simulated station, without the IMU glove unless asked (no protocol
    here uses it, and simulating its six IMUs takes over half the time), with some
    ``[safety]`` keys changed; validated like a config file."""
    return config_mod.validate({"glove": {"fitted": glove}, "safety": safety})


@contextmanager
def module_app(
    tmp_path_factory: pytest.TempPathFactory, sim_calibrations: SimCalibrations, name: str
) -> Iterator[App]:
    """A station of :func:`sim_config` and :data:`SEED`, calibrated, open in a new data
    directory ``name`` for one module's tests, and closed after them."""
    d = sim_calibrations.data_dir(tmp_path_factory.mktemp(name), sim_config(), SEED)
    a = App(sim_config(), Path(d), sim=True, seed=SEED).open()
    try:
        yield a
    finally:
        a.close()


class Stations:
    """Opens apps in a calibrated data dir and closes them all at the end of the test
    (``default``: the config when ``open`` is given none; :func:`sim_config` unless set)."""

    def __init__(
        self,
        tmp_path: Path,
        calibration: Path,
        default: config_mod.Config | None = None,
        seed: int = SEED,
    ) -> None:
        self.tmp_path = tmp_path
        self.calibration = calibration
        self.default = default
        self.seed = seed
        self.apps: list[App] = []

    def open(self, cfg: config_mod.Config | None = None, name: str = "data") -> App:
        d = self.tmp_path / name
        if not (d / "calibration").exists():
            shutil.copytree(self.calibration, d / "calibration")
        app = App(cfg or self.default or sim_config(), d, sim=True, seed=self.seed).open()
        self.apps.append(app)
        return app

    def close(self) -> None:
        for app in self.apps:
            app.close()


@pytest.fixture
def stations(tmp_path: Path, calibrated: Path) -> Iterator[Stations]:
    s = Stations(tmp_path, calibrated)
    try:
        yield s
    finally:
        s.close()


def patient(app: App, profile: str = "typical", **abilities: Any) -> VirtualPatient:
    st = app.station
    assert st is not None and st.sim is not None
    p: VirtualPatient = st.sim.patient(
        profile, st.clock, app.config["buttons"], seed=SEED, **abilities
    )
    p.start()
    return p


def run(app: App, plan: Plan | None = None) -> Outcome:
    outcome = app.run_session(plan)
    assert outcome is not None
    return outcome


# -- plans ----------------------------------------------------------------------------------


def grip_item(hands: tuple[str, ...] = ("involved", "uninvolved"), trials: int = 3) -> dict:
    return {
        "protocol": "max_grip",
        "days": "daily",
        "params": {"hands": list(hands), "trials_per_hand": trials},
    }


def make_plan(
    app: App,
    items: list[dict] | None = None,
    maximal: bool = True,
    extra: tuple[ScheduleItem, ...] = (),
    **caps: Any,
) -> Plan:
    """A plan like the built-in one, through the station's plan validation, with other
    schedule items or caps; ``extra`` items (test protocols) are put first."""
    raw = json.loads(json.dumps(default_sim_plan(app.config.station_id).raw))
    raw["caps"].update(caps)
    raw["gates"]["maximal_tests"] = maximal
    raw["schedule"] = items or [grip_item()]
    plan = plan_from_dict(raw, app.config.station_id)
    return dataclasses.replace(plan, schedule=extra + plan.schedule) if extra else plan


class VibrationProbe(Protocol):
    """A test protocol: one calibrated vibration on a motor, played the way a sensory
    protocol plays one (the session's check between drive steps), journalled as a trial."""

    name = "vibration_probe"
    uses_vibration = True
    PARAMS: ClassVar[Mapping[str, Param]] = {
        "duration_s": NumberParam(0.1, 120.0, default=4.0, unit="s"),
        "db": NumberParam(-40.0, 40.0, default=0.0, unit="dB"),
        "motor": IntParam(0, 7, default=0),
    }

    def __init__(self, params: dict[str, Any], app: App) -> None:
        super().__init__(params)
        self.app = app

    def run(self, ctx: SessionContext) -> None:
        st = self.app.station
        assert st is not None and st.haptics is not None
        ctx.ui.prompt("encourage.steady")
        stimulus = Stimulus(float(self.params["duration_s"]), float(self.params["db"]))
        t0 = ctx.clock.now()

        def until() -> bool:
            ctx.check()  # Stop, the session cap, the watchdog heartbeat
            return False

        result = st.haptics.play(int(self.params["motor"]), stimulus, until=until)
        ctx.record_trial(
            Trial(
                self.name,
                0,
                None,
                {"db": stimulus.amplitude_db, "duration_s": stimulus.duration_s},
                {"played_s": round(result.played_s, 3), "shortened": result.shortened},
                None,
                None,
                t0,
                ctx.clock.now(),
            )
        )

    def metrics(self, trials: list[Trial], ctx: SessionContext) -> dict[str, Any]:
        return {"played_s": metric(sum(t.response["played_s"] for t in trials), "s")}


def vibration_item(duration_s: float = 4.0, db: float = 0.0, motor: int = 0) -> ScheduleItem:
    params = {"duration_s": duration_s, "db": db, "motor": motor}
    return ScheduleItem(VibrationProbe.name, DAYS, params)


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Callable[[App], None]:
    """Make the runner know the vibration probe, playing on ``app``'s motors."""

    def install(app: App) -> None:
        monkeypatch.setitem(
            runner_mod.PROTOCOLS, VibrationProbe.name, lambda params: VibrationProbe(params, app)
        )

    return install


# -- looking at the station -----------------------------------------------------------------


def when_lcd_shows(app: App, word: str, then: Callable[[float], None]) -> list[float]:
    """Call ``then(t)`` once, the first time the LCD shows ``word``; returns [t] after."""
    st = app.station
    assert st is not None and st.sim is not None
    sim, clock = st.sim, st.clock
    seen: list[float] = []

    def look() -> None:
        if not seen and word in " ".join(sim.lcd_lines()):
            seen.append(clock.now())
            handle.cancel()
            then(seen[0])

    handle = clock.every(0.01, look, f"look-for-{word}")
    return seen


def screens_showing(app: App, words: str) -> list[float]:
    """The times the LCD came to show ``words`` (each showing once, however long)."""
    st = app.station
    assert st is not None
    shown: list[float] = []
    was = [False]

    def look() -> None:
        now = words in lcd_text(app)
        if now and not was[0]:
            shown.append(st.clock.now())
        was[0] = now

    st.clock.every(0.01, look, f"look-for-{words}")
    return shown


def press(app: App, key: str, hold_s: float = 0.12) -> float:
    """Press ``key`` through its mock pin now, release it ``hold_s`` later; returns when."""
    st = app.station
    assert st is not None and st.sim is not None
    pin = st.sim.button_pins(app.config["buttons"])[key]
    pin.drive_low()
    st.clock.call_later(hold_s, pin.drive_high, f"release-{key}")
    return float(st.clock.now())


def lcd_text(app: App) -> str:
    st = app.station
    assert st is not None and st.sim is not None
    return " ".join(" ".join(line.split()) for line in st.sim.lcd_lines())


def drives_at(app: App, t: float) -> list[float]:
    """Each DRV2605L's drive (0..1) at ``t``: what the station commands."""
    st = app.station
    assert st is not None and st.sim is not None
    return [chip.drive_at(t) for chip in st.sim.chips.drvs]


def site_g(app: App, t: float) -> list[float]:
    """Each motor's vibration at its pad at ``t`` (g rms): what the skin feels."""
    st = app.station
    assert st is not None and st.sim is not None
    return [m.vibration_at(t)[0] for m in st.sim.world.motors]


def events(outcome: Outcome) -> list[tuple[str, str | None]]:
    return [(e["kind"], e["code"]) for e in outcome.summary["safety_events"]]


def outbox_bodies(app: App) -> dict[str, dict[str, Any]]:
    """msg_id -> summary body of every outbox row, read from the station database."""
    with sqlite3.connect(station_db(app.data_dir)) as conn:
        rows = conn.execute("SELECT msg_id, schema, body FROM outbox ORDER BY seq").fetchall()
    assert all(schema == "rehab.session/1" for _, schema, _ in rows)
    return {msg_id: json.loads(body) for msg_id, _, body in rows}


def assert_summarised(app: App, outcome: Outcome) -> dict[str, Any]:
    """The summary is journalled and queued in the outbox, the same body; returns it."""
    assert app.journal is not None
    bodies = outbox_bodies(app)
    assert outcome.msg_id in bodies
    assert app.journal.session(outcome.session_id)["summary_msg_id"] == outcome.msg_id
    body = bodies[outcome.msg_id]
    assert body["state"] == outcome.state
    assert body["ended_reason"] == outcome.reason
    assert [(e["kind"], e["code"]) for e in body["safety_events"]] == events(outcome)
    return body


def grip_trials(app: App, outcome: Outcome) -> list[Trial]:
    assert app.journal is not None
    return app.journal.trials(outcome.session_id, "max_grip")


def reaction_times(trials: list[Trial]) -> list[float]:
    return [t.reaction_time_s for t in trials if t.reaction_time_s is not None]


# -- the profiles ---------------------------------------------------------------------------


def test_typical_patient_completes_and_the_measured_grip_is_the_truth(
    stations: Stations,
) -> None:
    app = stations.open(sim_config(glove=True))  # the whole default station
    p = patient(app, "typical")
    committed: list[int] = []

    def count_committed(t: float) -> None:  # as another process would see the journal
        uri = station_db(app.data_dir).as_uri() + "?mode=ro"
        with sqlite3.connect(uri, uri=True) as other:
            committed.append(other.execute("SELECT COUNT(*) FROM trials").fetchone()[0])

    when_lcd_shows(app, "Try 2 of 2", count_committed)
    outcome = run(app, make_plan(app, [grip_item(trials=2)]))
    p.stop()
    assert (outcome.state, outcome.reason) == ("complete", "")
    assert events(outcome) == []
    assert committed == [1]  # the first trial was durable before the second began
    body = assert_summarised(app, outcome)
    assert (body["complete"], body["ended_reason"]) == (True, "")
    assert body["data_quality"]["pads_tared"] is True  # zeroed before the first squeeze
    assert (body["software_version"], body["plan_version"]) == (station_version, 1)
    assert body["adherence"]["minutes"] > 0 and body["adherence"]["days_this_week"] == 1
    quality = body["data_quality"]
    assert quality["simulated"] is True and quality["sensor_faults"] == []
    assert quality["bus_errors"] == 0
    assert {"pad0", "pad7"} <= set(quality["calibration"])
    assert body["handedness"] == "right"  # station.handedness: the clinic needs not ask
    assert body["checkin"] == {
        "pain_before": 2,
        "pain_after": 2,
        "pain_between": [],  # one protocol: no check between two
        "new_numbness": False,
        "wound_problem": False,
        "pain_stop_rule": None,
    }
    (grip,) = body["protocols"]
    trials = grip_trials(app, outcome)
    assert grip["trials"] == len(trials) == 4 == body["adherence"]["trials"]
    hands = {"involved": "right", "uninvolved": "left"}
    for role, side in hands.items():
        mine = [t for t in trials if t.hand == side]
        assert [t.trial_index for t in mine] == [0, 1]
        assert all(t.quality == () for t in mine)
        assert len(p.peaks[side]) == 2  # one squeeze per trial
        truth = statistics.mean(p.peaks[side])
        measured = grip["metrics"][f"{role}_mean_force"]
        assert measured["unit"] == "N" and measured["hand"] == side and measured["n"] == 2
        assert abs(measured["value"] - truth) <= FORCE_TOL_N + FORCE_TOL_REL * truth
        assert measured["uncertainty"] > 0
        # each trial's peak against the squeeze it measured
        for trial, true_peak in zip(mine, p.peaks[side], strict=True):
            assert trial.response["peak_force_n"] == pytest.approx(
                true_peak, abs=FORCE_TOL_N + FORCE_TOL_REL * true_peak
            )
    # the patient's true reaction time, measured from the squeeze screen to force onset:
    # later by the patient's look period and the ramp to the onset threshold (~0.1 s)
    rt = statistics.median(reaction_times(trials))
    assert -0.15 <= rt - PROFILES["typical"].reaction_time_s <= 0.3
    st = app.station
    assert st is not None and st.sim is not None
    assert drives_at(app, st.clock.now()) == [0.0] * len(st.sim.chips.drvs)
    assert "All done for today" in lcd_text(app)


def test_a_glance_at_the_lcd_mid_resync_is_not_a_new_squeeze_screen(
    stations: Stations,
) -> None:
    """The LCD's periodic nibble resync passes through 8-bit one-line mode (HD44780 fig.
    24): rows 2 and 4 go dark for an instant. A patient glancing then has not been shown a
    new screen, and does not start the squeeze again: one trial, one squeeze."""
    app = stations.open()
    st = app.station
    assert st is not None
    p = patient(app)
    real_lcd = p.read_lcd
    glances = {"mid_resync": 0, "seen": 0}

    def read_lcd() -> list[str]:
        lines = real_lcd()
        if glances["mid_resync"] and "Squeeze" in lines[0]:
            glances["mid_resync"] -= 1
            glances["seen"] += 1
            return [lines[0], " " * len(lines[1]), lines[2], " " * len(lines[3])]
        return lines

    p.read_lcd = read_lcd  # type: ignore[method-assign]
    when_lcd_shows(
        app, "Squeeze", lambda t: st.clock.call_later(1.5, lambda: glances.update(mid_resync=1))
    )
    outcome = run(app, make_plan(app, [grip_item(("involved",), 1)]))
    p.stop()
    assert outcome.state == "complete"
    assert glances == {"mid_resync": 0, "seen": 1}
    assert p.squeezes == {"left": 0, "right": 1}
    (trial,) = grip_trials(app, outcome)
    (true_peak,) = p.peaks["right"]
    assert trial.response["peak_force_n"] == pytest.approx(
        true_peak, abs=FORCE_TOL_N + FORCE_TOL_REL * true_peak
    )


@pytest.mark.parametrize("lifts", [True, False])
def test_a_pad_pressed_at_the_start_gets_a_hands_off_request_then_no_tare(
    stations: Stations, lifts: bool
) -> None:
    """Something rests on the grip pad when the session zeroes the pads: the patient is asked
    to lift their hands; lifted, the pads are zeroed; still pressed after two requests, the
    session goes on with the technician's zero and the summary says why."""
    app = stations.open()
    st = app.station
    assert st is not None and st.sim is not None
    p = patient(app)
    st.sim.world.pads[0].set_force(4.0)  # a hand resting on the grip pad
    asked = when_lcd_shows(
        app, "hands off", lambda t: st.sim.world.pads[0].set_force(0.0) if lifts else None
    )
    outcome = run(app, make_plan(app, [grip_item(("involved",), 1)]))
    p.stop()
    assert asked  # the request was on the LCD
    quality = outcome.summary["data_quality"]
    assert quality["pads_tared"] is lifts
    if not lifts:
        assert "pad 0 reads" in quality["tare_problem"]
    assert outcome.state == "complete" and events(outcome) == []


def test_fatigue_prone_patient_is_stopped_by_the_fatigue_rule(stations: Stations) -> None:
    app = stations.open()
    p = patient(app, "fatigue_prone")
    outcome = run(app)
    p.stop()
    # a protocol stop ends force work, not the session; the session reached its end, but
    # not every planned protocol did: "stopped", with the rule that ended it
    assert outcome.state == "stopped"
    assert re.fullmatch(r"max_grip: peak force fell \d+% from the first trial", outcome.reason)
    summary = outcome.summary
    assert (summary["complete"], summary["ended_reason"]) == (False, outcome.reason)
    assert "All done for today" in lcd_text(app)  # the patient did what was asked
    assert events(outcome) == [("fatigue", "S-FATIGUE")]
    (fatigue,) = outcome.summary["safety_events"]
    detail = fatigue["detail"]
    assert detail["scope"] == "force" and detail["drop"] > detail["limit"] == 0.25
    # the rule fired on the measured peaks, which are the patient's true ones
    right = p.peaks["right"]
    assert len(right) == 3 and p.peaks["left"] == []
    assert detail["first_n"] == pytest.approx(right[0], abs=FORCE_TOL_N + FORCE_TOL_REL * right[0])
    assert detail["last_n"] == pytest.approx(right[-1], abs=FORCE_TOL_N + FORCE_TOL_REL * right[-1])
    trials = grip_trials(app, outcome)
    assert [t.hand for t in trials] == ["right"] * 3  # fewer than the 6 planned
    body = assert_summarised(app, outcome)
    metrics = body["protocols"][0]["metrics"]
    assert metrics["involved_trials"]["value"] == 3
    assert metrics["uninvolved_trials"]["value"] == 0
    assert "uninvolved_mean_force" not in metrics


def test_inattentive_patient_gets_a_missed_try_again_and_reacts_slower(
    stations: Stations,
) -> None:
    """A lapse on the squeeze screen is no squeeze: the patient is asked kindly to try
    again, and that try is repeated, so the grip still has every planned measurement.
    (Before, a missed try was one of the three, and the session still said complete.)"""
    app = stations.open()
    p = patient(app, "inattentive")
    again = screens_showing(app, "try again")
    outcome = run(app, make_plan(app, [grip_item(("involved",), 3)]))
    p.stop()
    assert (outcome.state, outcome.reason) == ("complete", "")
    assert events(outcome) == []
    trials = grip_trials(app, outcome)
    missed = [t for t in trials if "no_effort" in t.quality]
    squeezed = [t for t in trials if "no_effort" not in t.quality]
    assert len(missed) >= 1  # the seed has a lapse on a squeeze screen: the case in point
    assert len(again) == len(missed)  # each miss was followed by the re-prompt
    assert [t.trial_index for t in trials] == list(range(len(trials)))
    # every planned squeeze was measured, and what was measured is the truth
    assert len(squeezed) == 3 == len(p.peaks["right"])
    for trial, true_peak in zip(squeezed, p.peaks["right"], strict=True):
        assert trial.response["peak_force_n"] == pytest.approx(
            true_peak, abs=FORCE_TOL_N + FORCE_TOL_REL * true_peak
        )
    metrics = assert_summarised(app, outcome)["protocols"][0]["metrics"]
    assert metrics["involved_trials"]["value"] == 3
    # slower: its reactions are not those of the typical patient (see the typical test)
    rts = reaction_times(trials)
    assert len(rts) == len(squeezed)
    assert statistics.median(rts) > PROFILES["typical"].reaction_time_s + 0.4
    assert statistics.median(rts) > PROFILES["inattentive"].reaction_time_s - 0.15


def test_pain_flare_patient_rising_pain_at_the_end_check_is_not_complete(
    stations: Stations,
) -> None:
    """One point per check: 3/10 at the check between the protocols (a rise of 1, go on),
    4/10 at the end check (a rise of 2): the stop rule fired, so the session is not
    complete (before, it was), and the summary flags the rise."""
    app = stations.open()
    p = patient(app, "pain_flare", pain_rise_per_check=1)
    lets_stop = when_lcd_shows(app, "Let's stop", lambda t: None)
    plan = make_plan(app, [grip_item(("involved",), 1), grip_item(("uninvolved",), 1)])
    outcome = run(app, plan)
    p.stop()
    assert (outcome.state, outcome.reason) == ("stopped", "pain rose from 2 to 4 at the end check")
    assert outcome.summary["complete"] is False
    # the exercises were over: no "let's stop" then, but rest and tell the clinic
    assert lets_stop == []
    assert lcd_text(app).startswith("All done for today. Rest your hand, and tell your clinic")
    assert events(outcome) == [("pain_rise", "S-PAIN")]
    detail = outcome.summary["safety_events"][0]["detail"]
    assert (detail["pain_before"], detail["pain_now"], detail["rise_limit"]) == (2, 4, 2)
    checkin = outcome.summary["checkin"]
    assert (checkin["pain_before"], checkin["pain_between"], checkin["pain_after"]) == (2, [3], 4)
    assert checkin["pain_stop_rule"] == "pain_rise"
    assert [t.hand for t in grip_trials(app, outcome)] == ["right", "left"]
    assert_summarised(app, outcome)


def test_pain_rise_at_a_check_between_protocols_stops_the_session(stations: Stations) -> None:
    app = stations.open()
    p = patient(app, "pain_flare")  # two points per check
    plan = make_plan(app, [grip_item(("involved",), 1), grip_item(("uninvolved",), 1)])
    outcome = run(app, plan)
    p.stop()
    assert (outcome.state, outcome.reason) == ("stopped", "pain rose from 2 to 4")
    assert events(outcome) == [("pain_rise", "S-PAIN")]
    # the second protocol never started, and the end check was not asked
    assert [t.hand for t in grip_trials(app, outcome)] == ["right"]
    assert p.peaks["left"] == []
    assert outcome.summary["checkin"]["pain_after"] is None
    assert outcome.summary["checkin"]["pain_between"] == [4]  # the answer the rule fired on
    assert outcome.summary["checkin"]["pain_stop_rule"] == "pain_rise"
    assert_summarised(app, outcome)
    # the last screen says why, in the patient's words
    assert lcd_text(app).startswith("Let's stop for today Rest your hand and tell your clinic")


def test_walks_away_patient_gets_a_pause_then_the_session_ends_incomplete(
    stations: Stations,
) -> None:
    no_response_s = 10.0
    app = stations.open(sim_config(no_response_s=no_response_s))
    p = patient(app, "walks_away")
    paused = when_lcd_shows(app, "still there", lambda t: None)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 3)]))
    p.stop()
    assert (outcome.state, outcome.reason) == ("incomplete", "no response from the patient")
    kinds = events(outcome)
    assert kinds[-2:] == [("paused", "S-PAUSE"), ("no_response", "S-NORESPONSE")]
    assert outcome.summary["safety_events"][-2]["detail"]["by"] == "no response"
    # the pause screen came no_response_s after the patient's last press, after leaving
    leaves_s = p.a.walks_away_after_s
    assert leaves_s is not None
    last_act = max(t for t, _ in p.log)
    assert last_act - p.t0 <= leaves_s
    assert paused and paused[0] >= last_act + no_response_s
    # every squeeze before leaving is a journalled trial; nothing after it
    trials = grip_trials(app, outcome)
    measured = [t for t in trials if "no_effort" not in t.quality]
    assert len(measured) == sum(len(v) for v in p.peaks.values()) >= 1
    assert all(t.t_end_s - p.t0 <= leaves_s + 5.0 for t in measured)
    assert outcome.summary["checkin"]["pain_after"] is None
    body = assert_summarised(app, outcome)
    assert body["complete"] is False
    assert "Session ended early" in lcd_text(app)


# -- Stop -----------------------------------------------------------------------------------


def test_stop_during_a_squeeze_turns_the_motors_off_at_once_and_ends_the_session(
    stations: Stations,
) -> None:
    app = stations.open()
    st = app.station
    assert st is not None and st.haptics is not None and app.safety is not None
    p = patient(app)
    pressed: list[float] = []
    running: list[list[float]] = []

    def stop() -> None:
        running.append(site_g(app, st.clock.now()))
        pressed.append(press(app, "stop"))

    def second_squeeze(t: float) -> None:
        st.haptics.drive_raw(1, 0.6)  # type: ignore[union-attr]  # a motor running
        st.clock.call_later(0.5, stop, "press-stop")

    def second_trial(t: float) -> None:
        when_lcd_shows(app, "Squeeze", second_squeeze)

    when_lcd_shows(app, "Try 2 of 2", second_trial)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 2)]))
    p.stop()
    (t_press,) = pressed
    assert running[0][1] > 0.3  # it was vibrating when Stop was pressed
    # the Stop callback cuts the drive at the press itself, from the pin's callback
    assert drives_at(app, t_press) == [0.0] * len(st.sim.chips.drvs)  # type: ignore[union-attr]
    # and the motor at the pad has spun down within a few of its time constants
    assert site_g(app, t_press + WAIT_SLICE_S)[1] < running[0][1] / 2
    assert site_g(app, t_press + 0.1)[1] == 0.0
    assert (outcome.state, outcome.reason) == ("stopped", "stop button pressed")
    assert events(outcome) == [("stop", "S-STOP")]
    t_stop = outcome.summary["safety_events"][0]["t_s"]
    assert t_press <= t_stop <= t_press + 2 * WAIT_SLICE_S  # the loop saw it at once
    # the finished trial is kept, the interrupted squeeze is not a trial
    trials = grip_trials(app, outcome)
    assert [t.trial_index for t in trials] == [0]
    assert trials[0].t_end_s < t_press
    assert_summarised(app, outcome)
    assert "Session stopped" in lcd_text(app)


def test_stop_during_a_vibration_turns_it_off_at_once(
    stations: Stations, probe: Callable[[App], None]
) -> None:
    app = stations.open()
    st = app.station
    assert st is not None and st.haptics is not None
    probe(app)
    p = patient(app)
    pressed: list[float] = []
    level: list[float] = []

    def vibrating(t: float) -> None:
        def stop() -> None:
            level.append(site_g(app, st.clock.now())[0])
            pressed.append(press(app, "stop"))

        st.clock.call_later(1.0, stop)

    when_lcd_shows(app, "Nice and steady", vibrating)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 1)], extra=(vibration_item(),)))
    p.stop()
    (t_press,) = pressed
    assert level[0] > 0.3
    assert drives_at(app, t_press)[0] == 0.0
    # the play loop does not drive the motor again after Stop
    for k in range(1, 11):
        assert drives_at(app, t_press + k * WAIT_SLICE_S)[0] == 0.0
    assert site_g(app, t_press + 0.1)[0] == 0.0
    assert (outcome.state, outcome.reason) == ("stopped", "stop button pressed")
    assert events(outcome) == [("stop", "S-STOP")]
    # about the second played before Stop went into the day's dose; no grip was started
    assert st.ledger.vibration_s_today() == pytest.approx(1.0, abs=0.1)
    assert p.peaks == {"left": [], "right": []}
    assert_summarised(app, outcome)


# -- gates, check-in, session cap -----------------------------------------------------------


def test_maximal_grip_is_refused_when_the_plan_does_not_allow_maximal_tests(
    stations: Stations,
) -> None:
    """The shipped example plan: only maximal grip, maximal tests not allowed. Nothing can
    run: no check-in for nothing, the patient is told, and the session is not complete
    (before, an empty session was reported complete)."""
    app = stations.open()
    p = patient(app)
    welcomed = when_lcd_shows(app, "Hello", lambda t: None)
    outcome = run(app, make_plan(app, maximal=False))
    p.stop()
    assert (outcome.state, outcome.reason) == (
        "incomplete",
        "nothing to run today: max_grip (maximal tests not allowed)",
    )
    assert events(outcome) == [("maximal_not_allowed", "S-GATE")]
    assert outcome.summary["safety_events"][0]["detail"] == {"protocol": "max_grip"}
    assert grip_trials(app, outcome) == []
    assert p.squeezes == {"left": 0, "right": 0}
    assert welcomed == []
    body = assert_summarised(app, outcome)
    assert body["complete"] is False
    assert body["checkin"]["pain_before"] is None and body["checkin"]["pain_after"] is None
    assert body["protocols"] == [{"protocol": "max_grip", "trials": 0, "metrics": {}}]
    assert lcd_text(app).startswith("Nothing to do today.")


def test_wound_problem_at_check_in_stops_the_session_before_any_trial(
    stations: Stations,
) -> None:
    app = stations.open()
    p = patient(app, wound_problem=True)
    outcome = run(app)
    p.stop()
    assert (outcome.state, outcome.reason) == ("stopped", "wound problem reported")
    assert events(outcome) == [("checkin_wound", "S-CHECKIN")]
    assert outcome.summary["safety_events"][0]["detail"]["scope"] == "session"
    assert grip_trials(app, outcome) == []
    assert p.squeezes == {"left": 0, "right": 0}
    body = assert_summarised(app, outcome)
    assert body["checkin"]["wound_problem"] is True
    assert body["checkin"]["pain_after"] is None


def test_new_numbness_at_check_in_skips_vibration_but_not_force_work(
    stations: Stations, probe: Callable[[App], None]
) -> None:
    app = stations.open()
    st = app.station
    assert st is not None
    probe(app)
    p = patient(app, new_numbness=True)
    highest: list[float] = [0.0]

    def watch() -> None:
        highest[0] = max(highest[0], *site_g(app, st.clock.now()))

    st.clock.every(0.05, watch, "watch-motors")
    plan = make_plan(app, [grip_item(("involved",), 1)], extra=(vibration_item(),))
    outcome = run(app, plan)
    p.stop()
    # a rule held a planned protocol back: not complete, and the reason names it
    assert (outcome.state, outcome.reason) == (
        "stopped",
        "vibration_probe: skipped, no vibration today",
    )
    assert events(outcome) == [("checkin_numbness", "S-CHECKIN")]
    assert outcome.summary["safety_events"][0]["detail"]["scope"] == "vibration"
    assert outcome.summary["checkin"]["new_numbness"] is True
    # no vibration at all: not played, nothing in the dose, no protocol trials
    assert highest[0] == 0.0
    assert st.ledger.vibration_s_today() == 0.0
    assert app.journal is not None
    assert app.journal.trials(outcome.session_id, VibrationProbe.name) == []
    # the grip (force work) still ran
    assert [t.hand for t in grip_trials(app, outcome)] == ["right"]
    assert len(p.peaks["right"]) == 1
    assert_summarised(app, outcome)


def test_session_length_cap_ends_the_session_with_the_motors_off(stations: Stations) -> None:
    app = stations.open()
    st = app.station
    assert st is not None and st.haptics is not None
    p = patient(app)
    t_start = st.clock.now()
    st.clock.call_at(t_start + 55.0, lambda: st.haptics.drive_raw(0, 0.6), "motor-on")  # type: ignore[union-attr]
    outcome = run(app, make_plan(app, max_session_min=1))
    p.stop()
    assert (outcome.state, outcome.reason) == ("incomplete", "session length cap reached")
    assert events(outcome) == [("time", "S-TIME")]
    t_cap = outcome.summary["safety_events"][0]["t_s"]
    assert t_start + 60.0 <= t_cap <= t_start + 60.0 + 2 * WAIT_SLICE_S
    # the motor left running was turned off at the cap, and stays off
    assert site_g(app, t_cap - 0.5)[0] > 0.3
    assert drives_at(app, t_cap + 0.01)[0] == 0.0
    assert site_g(app, t_cap + 0.1)[0] == 0.0
    trials = grip_trials(app, outcome)
    assert 1 <= len(trials) < 6
    assert all(t.t_end_s <= t_cap for t in trials)
    assert_summarised(app, outcome)


def test_force_ceiling_ends_a_maximal_squeeze_at_the_cap(stations: Stations) -> None:
    """A plan's force cap below the patient's grip: the squeeze ends at the cap (the
    ceiling holds during maximal tests too), and the trial is flagged."""
    cap_n = 5.0
    app = stations.open()
    p = patient(app)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 1)], max_force_n=cap_n))
    p.stop()
    assert outcome.state == "complete"
    (trial,) = grip_trials(app, outcome)
    assert p.targets["right"][0] > 1.5 * cap_n  # the patient would have gone well past it
    assert trial.stimulus["force_cap_n"] == cap_n
    assert "at_force_cap" in trial.quality
    assert trial.t_end_s - trial.t_start_s < SQUEEZE_S  # ended early, at the cap
    # stopped within a biofeedback period or two of reaching the cap (the ramp's overshoot)
    ramp_n_per_s = p.targets["right"][0] / 0.35
    assert cap_n <= trial.response["peak_force_n"] <= cap_n + ramp_n_per_s * 2 * FEEDBACK_S


def test_sigint_mid_squeeze_ends_the_session_incomplete_with_the_motors_off(
    stations: Stations,
) -> None:
    app = stations.open()
    st = app.station
    assert st is not None and st.haptics is not None
    p = patient(app)
    sent: list[float] = []
    # Python's own handler, or SIG_IGN when the suite runs as a background job
    before = signal.getsignal(signal.SIGINT)

    def interrupt(t: float) -> None:
        st.haptics.drive_raw(3, 0.6)  # type: ignore[union-attr]
        sent.append(st.clock.now())
        signal.raise_signal(signal.SIGINT)  # Ctrl-C at the terminal of run --sim

    when_lcd_shows(app, "Squeeze", interrupt)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 1)]))
    p.stop()
    assert (outcome.state, outcome.reason) == ("incomplete", "SIGINT received")
    assert events(outcome) == [("signal", "S-SIGNAL")]
    assert sent[0] <= outcome.summary["safety_events"][0]["t_s"] <= sent[0] + WAIT_SLICE_S
    assert drives_at(app, st.clock.now()) == [0.0] * len(st.sim.chips.drvs)  # type: ignore[union-attr]
    assert grip_trials(app, outcome) == []
    assert_summarised(app, outcome)
    # the session's handler is gone again: the one before it is back
    assert signal.getsignal(signal.SIGINT) is before


def test_watchdog_turns_the_motors_off_when_the_session_loop_stalls(
    stations: Stations,
) -> None:
    """The session loop hangs (here: inside one of its waits, in real time, until the 0.5 s
    watchdog has acted, at most 10 s) while a motor runs: the watchdog thread turns it off
    during the stall and journals it; the loop then goes on."""
    app = stations.open()
    st = app.station
    assert st is not None and st.haptics is not None and st.sim is not None
    assert app.safety is not None
    watchdog = app.safety.watchdog
    p = patient(app)
    during: list[float] = []

    def stall(t: float) -> None:
        st.haptics.drive_raw(1, 0.6)  # type: ignore[union-attr]
        during.append(drives_at(app, st.clock.now())[1])
        give_up = time.monotonic() + 10.0  # the stall: real time is the watchdog's time
        while drives_at(app, st.clock.now())[1] > 0 and time.monotonic() < give_up:
            time.sleep(0.01)
        during.append(drives_at(app, st.clock.now())[1])
        during.append(watchdog.stalls)

    when_lcd_shows(app, "Squeeze", stall)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 1)]))
    p.stop()
    assert during[0] > 0.5 and during[1] == 0.0  # off before the loop came back
    assert during[2] == 1  # by the watchdog, during the stall
    assert events(outcome) == [("watchdog", "E-WDG-01")]
    detail = outcome.summary["safety_events"][0]["detail"]
    assert detail["timeout_s"] == 0.5 and detail["stalled_s"] >= 0.5
    assert outcome.state == "complete"
    assert_summarised(app, outcome)


# -- a sensor fault -------------------------------------------------------------------------


def test_pad_adc_lost_mid_squeeze_ends_incomplete_with_error_screen_and_motors_off(
    stations: Stations,
) -> None:
    app = stations.open()
    st = app.station
    assert st is not None and st.sim is not None and st.haptics is not None
    p = patient(app)
    lost: list[float] = []

    def unplug(t: float) -> None:
        st.haptics.drive_raw(2, 0.6)  # type: ignore[union-attr]
        lost.append(st.clock.now() + 0.3)
        st.clock.call_at(lost[0], lambda: st.sim.buses["station"].detach(0x48), "unplug-adc")  # type: ignore[union-attr]

    when_lcd_shows(app, "Squeeze", unplug)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 2)]))
    p.stop()
    assert outcome.state == "incomplete"
    # the pad being read when its ADC went away (0x48 carries pads 0-3)
    assert re.fullmatch(r"fault: pad_fault: pad [0-3] \(errno 121\): .*", outcome.reason)
    assert events(outcome) == [("fault", "E-PAD-121")]  # EREMOTEIO: the ADC does not answer
    # the patient sees the error screen with the technician's code, and nothing vibrates
    assert "E-PAD-121" in lcd_text(app)
    t_fault = outcome.summary["safety_events"][0]["t_s"]
    assert lost[0] <= t_fault <= lost[0] + 0.2
    assert site_g(app, lost[0] - 0.05)[2] > 0.3
    assert drives_at(app, t_fault) == [0.0] * len(st.sim.chips.drvs)
    body = assert_summarised(app, outcome)
    assert body["data_quality"]["sensor_faults"]
    assert grip_trials(app, outcome) == []


def test_a_plan_above_the_station_caps_runs_under_the_station_caps(
    stations: Stations, probe: Callable[[App], None]
) -> None:
    """A plan asks for more force and stronger vibration than this station allows: the
    station takes it, and the session holds to the station's own caps."""
    station_force_n, station_vibration_g = 5.0, 0.5
    app = stations.open(
        sim_config(max_force_n=station_force_n, max_vibration_g=station_vibration_g)
    )
    st = app.station
    assert st is not None
    probe(app)
    p = patient(app)
    highest = [0.0]

    def watch() -> None:
        highest[0] = max(highest[0], *site_g(app, st.clock.now()))

    st.clock.every(0.01, watch, "watch-motors")
    plan = make_plan(
        app,
        [grip_item(("involved",), 1)],
        extra=(vibration_item(2.0, db=20.0),),
        max_force_n=40.0,
        max_vibration_g=4.0,
    )
    outcome = run(app, plan)
    p.stop()
    assert outcome.state == "complete"
    # force: the squeeze ended at the station's cap, not the plan's
    (trial,) = grip_trials(app, outcome)
    assert p.targets["right"][0] > 1.5 * station_force_n
    assert trial.stimulus["force_cap_n"] == station_force_n
    ramp_n_per_s = p.targets["right"][0] / 0.35
    assert trial.response["peak_force_n"] <= station_force_n + ramp_n_per_s * 2 * FEEDBACK_S
    # vibration: it played, at no more than the station's cap
    assert 0.2 < highest[0] <= station_vibration_g


# -- the vibration dose across restarts -----------------------------------------------------


def test_daily_vibration_dose_survives_a_restart_and_the_cap_holds(
    stations: Stations, probe: Callable[[App], None]
) -> None:
    """A 6 s daily cap: 4 s played, restart, the next session gets the 2 s that are left."""
    cap_min = 0.1
    # The watchdog (0.5 s of real time by default) cuts a vibration short when a loaded
    # host stalls the session loop; this test is about the dose, so it gets the longest.
    stations.default = sim_config(watchdog_s=10.0)
    app = stations.open()
    probe(app)
    p = patient(app)
    plan = make_plan(
        app,
        [grip_item(("involved",), 1)],
        extra=(vibration_item(4.0),),
        daily_vibration_min=cap_min,
    )
    today = dt.date.today().isoformat()
    stored_mid_session: list[float] = []

    def stored_dose(t: float) -> None:  # what a restart after a power cut here would find
        uri = station_db(app.data_dir).as_uri() + "?mode=ro"
        with sqlite3.connect(uri, uri=True) as other:
            row = other.execute("SELECT vibration_s FROM daily_dose WHERE day=?", (today,))
            stored_mid_session.append((row.fetchone() or (0.0,))[0])

    when_lcd_shows(app, "Last one", stored_dose)  # the end question, after the last trial
    first = run(app, plan)
    p.stop()
    assert stored_mid_session and stored_mid_session[0] == pytest.approx(4.0, abs=0.06)
    assert first.state == "complete"
    assert first.summary["protocols"][0]["metrics"]["played_s"]["value"] == pytest.approx(
        4.0, abs=0.06
    )
    assert app.journal is not None
    seconds, a8_sq = app.journal.dose(today)
    assert seconds == pytest.approx(4.0, abs=0.06) and a8_sq > 0
    app.close()

    again = stations.open()
    st = again.station
    assert st is not None and st.haptics is not None
    assert st.ledger.vibration_s_today() == pytest.approx(seconds)
    assert st.ledger.today_totals.energy_m2s3 == pytest.approx(a8_sq * 8 * 3600)
    probe(again)
    p = patient(again)
    second = run(again, plan)
    p.stop()
    assert second.state == "complete"
    assert again.journal is not None
    (trial,) = again.journal.trials(second.session_id, VibrationProbe.name)
    assert trial.response["shortened"] is True
    assert trial.response["played_s"] == pytest.approx(cap_min * 60 - seconds, abs=0.06)
    assert st.ledger.vibration_s_today() == pytest.approx(cap_min * 60, abs=0.06)
    assert again.journal.dose(today)[0] == pytest.approx(cap_min * 60, abs=0.06)


# -- no plan exceeds the caps ---------------------------------------------------------------

#: The station's hard caps for the property test: below what plans may ask for.
STATION_SAFETY: dict[str, Any] = {
    "max_vibration_g": 1.0,
    "daily_vibration_min": 1.0,
    "max_force_n": 15.0,
    "max_session_min": 10.0,
    "min_rest_s": 20.0,
}


def in_limits(name: str) -> st.SearchStrategy[Any]:
    lo, hi, _ = CAP_LIMITS[name]
    if name.startswith("pain_"):
        return st.integers(int(lo), int(hi))
    values = st.floats(lo, hi) | st.sampled_from([lo, hi])
    return values | st.none() if name in OPTIONAL_CAPS else values


#: Anything a plan might say: huge, negative, not finite, the wrong type.
wild_values = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e6, 1e300, -1.0, 0.0, True, "3", None])
    | st.integers(-(10**12), 10**12)
)


@st.composite
def plan_caps(draw: st.DrawFn) -> dict[str, Any]:
    """Caps within the plan limits (most examples), or with one wild value."""
    caps = draw(st.fixed_dictionaries({name: in_limits(name) for name in CAP_LIMITS}))
    if draw(st.booleans()) and draw(st.booleans()):
        caps[draw(st.sampled_from(sorted(CAP_LIMITS)))] = draw(wild_values)
    return caps


#: How late a motor may stop after its stimulus's deadline on the simulated station: the
#: simulated clock returns from a sleep only after the acquisition work that fell due in it
#: (an IMU FIFO drain is about 9 ms of wire time). On a Pi the acquisition has a thread of
#: its own and the stop waits at most for the station bus (well under 1 ms).
STOP_LATENCY_S = 0.02


class CapProbe:
    """Stands in for the session runner under :meth:`App.run_session`: plays a stimulus
    far above any cap and a long one on two motors, and records the vibration at every pad."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.highest_g = 0.0
        self.played_s = 0.0
        self.outcomes: list[float | None] = []  # seconds played, None = refused

    def run_session(self, today: dt.date) -> None:
        st = self.app.station
        assert st is not None and st.haptics is not None and st.sim is not None
        world = st.sim.world

        def look() -> bool:
            self.highest_g = max(
                self.highest_g, *(m.vibration_at(st.clock.now())[0] for m in world.motors)
            )
            return False

        for motor in (0, 1):
            for stimulus in (Stimulus(0.2, 40.0), Stimulus(1.0, 0.0)):
                try:
                    played_s = st.haptics.play(motor, stimulus, until=look).played_s
                except VibrationCapReached:  # the day's vibration time is used up
                    self.outcomes.append(None)
                    continue
                self.played_s += played_s
                self.outcomes.append(played_s)


@pytest.fixture(scope="module")
def capped_app(tmp_path_factory: pytest.TempPathFactory, calibrated: Path) -> Iterator[App]:
    d = tmp_path_factory.mktemp("capped")
    shutil.copytree(calibrated, d / "calibration")
    app = App(sim_config(**STATION_SAFETY), d, sim=True, seed=SEED).open()
    try:
        yield app
    finally:
        app.close()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(caps=plan_caps(), target_n=st.floats(0.0, 1e9), other_hand_n=st.floats(0.0, 500.0))
def test_no_plan_makes_force_or_vibration_exceed_the_station_caps(
    capped_app: App, caps: dict[str, Any], target_n: float, other_hand_n: float
) -> None:
    app = capped_app
    station = app.config["safety"]
    raw = json.loads(json.dumps(default_sim_plan(app.config.station_id).raw))
    raw["caps"] = caps
    try:
        plan = plan_from_dict(raw, app.config.station_id)
    except PlanError as exc:
        # refused, naming a cap the plan limits do not allow; nothing runs
        name = exc.field.removeprefix("caps.")
        lo, hi, _ = CAP_LIMITS[name]
        value = caps[name]
        integer = name.startswith("pain_")
        allowed = (int,) if integer else (int, float)
        assert (
            isinstance(value, bool) or not isinstance(value, allowed) or not lo <= value <= hi
        ) and not (value is None and name in OPTIONAL_CAPS)
        event("plan refused")
        return
    event("plan accepted")
    effective = app._runner(plan).caps  # what the session runner enforces
    assert effective == plan.effective_caps(station)
    assert effective.max_vibration_g <= station["max_vibration_g"]
    assert effective.daily_vibration_min <= station["daily_vibration_min"]
    assert effective.max_force_n <= station["max_force_n"]
    assert effective.max_session_min <= station["max_session_min"]
    assert effective.min_rest_s >= station["min_rest_s"]
    force = clamp_force_target(target_n, effective, other_hand_n or None)
    assert 0.0 <= force <= station["max_force_n"]
    if effective.force_ceiling_pct_other_hand is not None and other_hand_n:
        assert force <= other_hand_n * effective.force_ceiling_pct_other_hand / 100 + 1e-9

    # through App.run_session to the haptics, on the simulated motors
    st_ = app.station
    assert st_ is not None and st_.haptics is not None
    # a new day's dose, and the motors of the last example spun down (simulated time)
    st_.ledger.restore({"day": dt.date.today().isoformat(), "vibration_s": 0.0, "energy_m2s3": 0.0})
    st_.clock.sleep(0.3)
    assert max(site_g(app, st_.clock.now())) == 0.0
    cap_probe = CapProbe(app)
    app._runner = lambda _plan: cap_probe  # type: ignore[method-assign,assignment,return-value]
    try:
        app.run_session(plan)
    finally:
        del app._runner  # back to the class's method
    assert st_.haptics.caps.max_vibration_g == min(
        caps["max_vibration_g"], station["max_vibration_g"]
    )
    assert cap_probe.highest_g <= effective.max_vibration_g
    # The day's vibration time holds to within the latency of the motor's stop, and once
    # it is used up every further stimulus is refused.
    day_s = effective.daily_vibration_min * 60
    assert cap_probe.played_s <= day_s + STOP_LATENCY_S
    assert st_.ledger.vibration_s_today() <= day_s + STOP_LATENCY_S
    total = 0.0
    for played in cap_probe.outcomes:
        if total >= day_s - 1e-6:
            assert played is None, cap_probe.outcomes
        total += played or 0.0
    if effective.max_vibration_g >= 0.5 and effective.daily_vibration_min * 60 >= 0.3:
        assert cap_probe.highest_g > 0.2  # it did vibrate: the bound is not vacuous
    assert all(d == 0.0 for d in drives_at(app, st_.clock.now()))
