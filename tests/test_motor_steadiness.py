"""Force steadiness on the simulated station: a virtual patient of known steadiness holds
in the band it reads off the LCD, and the station measures each hold's CV within a
stated tolerance of the patient's own force; the stop paths (the CV-doubling rule, a pause,
no squeeze, the clinician's ceiling and the force cap) each with the input that fires it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import SimCalibrations
from motor_bar import (
    bar_station_set,
    followers,
    ideal_pad,
    item,
    metrics,
    motor,
    session,
    trials,
    true_force,
)
from test_session_e2e import Stations, events, press, when_lcd_shows

HOLDS = {"trials": 2, "hold_s": 8.0, "level_pct": 25.0, "rest_s": 3.0}
#: A hold's measured CV against the patient's true CV over the same window (relative).
CV_TOL_REL = 0.15
#: The mean CV of a session against the patient's nominal wobble (relative): the wobble of
#: one 5-s window varies about its nominal SD.
CV_NOMINAL_TOL_REL = 0.3


@pytest.fixture
def bar_stations(tmp_path: Path, sim_calibrations: SimCalibrations) -> Iterator[Stations]:
    yield from bar_station_set(tmp_path, sim_calibrations)


def test_steadiness_measures_each_holds_true_cv_and_reports_its_setting(
    bar_stations: Stations,
) -> None:
    app = bar_stations.open()
    ideal_pad(app)
    outcome, p = session(app, [item("force_steadiness", **HOLDS)], steadiness_cv=0.04)
    assert outcome.state == "complete"  # CV never doubled: no stop rule fired
    got = trials(app, outcome, "force_steadiness")
    holds = followers(p, "SteadyHold")
    assert len(got) == len(holds) == 2
    tol = 0.1  # the pad's calibration tolerance (MetricsContext default)
    for t, f in zip(got, holds, strict=True):
        r, s = t.response, t.stimulus
        assert t.quality == ()
        a, b = r["window_s"]
        assert a >= r["reached_s"] + 1.5 and b <= 8.0 - 0.5 + 0.01  # the steady part only
        _, true = true_force(f, t.t_start_s, a, b)
        true_cv = 100.0 * float(np.std(true, ddof=1) / np.mean(true))
        assert r["cv_pct"] == pytest.approx(true_cv, rel=CV_TOL_REL)
        assert r["detrended_cv_pct"] <= r["cv_pct"] + 0.05
        assert r["cvt_pct"] == pytest.approx(100.0 * np.std(true) / s["target_n"], rel=0.2)
        true_mad = float(np.mean(np.abs(true - s["target_n"])))
        assert abs(r["mad_n"] - true_mad) <= tol * s["target_n"]
        assert s["target_n"] == pytest.approx(0.25 * s["reference"]["force_n"], rel=1e-3)
        assert s["capped"] is False and s["level_pct"] == 25.0
    m = metrics(outcome, "force_steadiness")
    assert m["steadiness_cv"]["unit"] == "%" and m["steadiness_cv"]["uncertainty"] > 0
    assert m["steadiness_cv"]["value"] == pytest.approx(4.0, rel=CV_NOMINAL_TOL_REL)
    ref = m["reference_force"]
    assert ref["source"] == "comfortable" and ref["unit"] == "N"
    assert ref["value"] == pytest.approx(15.0, rel=tol) and ref["uncertainty"] > 0
    assert m["target_force"]["value"] == pytest.approx(0.25 * ref["value"], rel=1e-2)
    assert m["mean_abs_deviation"]["unit"] == "N" and m["mean_abs_deviation"]["uncertainty"] > 0
    assert 0 < m["display_latency_ms"]["value"] < 30.0
    assert m["holds"]["value"] == 2
    assert m["level"]["loading"]["reason"].startswith("first session")


def test_steadiness_a_cv_that_doubles_stops_force_work_and_a_paused_hold_does_not_count(
    bar_stations: Stations,
) -> None:
    """Each hold of this patient is 50 % wobblier than the one before: the third hold's CV
    is more than twice the first's (§6.4), and force work stops. The second hold, paused
    by the patient, is kept out of the rule and of the metrics."""
    app = bar_stations.open()
    ideal_pad(app)
    st = app.station
    assert st is not None

    def second_hold(_t: float) -> None:  # the patient pauses the second hold 2 s in
        when_lcd_shows(app, "Steady squeeze", lambda _t2: st.clock.call_later(
            2.0, lambda: press(app, "back"), "patient-pauses"))  # fmt: skip

    when_lcd_shows(app, "Hold done", second_hold)
    outcome, _p = session(
        app,
        [item("force_steadiness", **{**HOLDS, "trials": 3})],
        steadiness_cv=0.03,
        motor=motor(steadiness_rise_per_hold=0.5),
    )
    got = trials(app, outcome, "force_steadiness")
    assert [("paused" in t.quality) for t in got] == [False, True, False]
    first, last = got[0].response["cv_pct"], got[2].response["cv_pct"]
    assert last >= 2.0 * first
    assert ("fatigue", "S-FATIGUE") in events(outcome)
    (stop,) = [e for e in outcome.summary["safety_events"] if e["kind"] == "fatigue"]
    assert stop["detail"]["rule"] == "steadiness_cv_doubled"
    assert stop["detail"]["first_cv_pct"] == pytest.approx(first, abs=0.01)
    m = metrics(outcome, "force_steadiness")
    assert m["holds"]["value"] == 2  # the paused one is not a measurement


def test_steadiness_no_squeeze_twice_stops_the_task_as_no_effort(bar_stations: Stations) -> None:
    app = bar_stations.open()
    outcome, _p = session(app, [item("force_steadiness", **HOLDS)], motor=motor(force_match=0.0))
    got = trials(app, outcome, "force_steadiness")
    assert [t.quality for t in got] == [("no_effort",), ("no_effort",)]
    assert ("no_effort", "S-PROTO") in events(outcome) or any(
        e["kind"] == "no_effort" for e in outcome.summary["safety_events"]
    )
    assert metrics(outcome, "force_steadiness")["holds"]["value"] == 0


def test_steadiness_the_ceiling_caps_the_target_and_the_force_cap_ends_a_hold(
    bar_stations: Stations,
) -> None:
    """The plan allows 10 % of the other hand's maximal grip: the target is clamped to it
    (the summary says so). A patient who squeezes far past the band reaches the force cap:
    the hold ends there and is no measurement."""
    app = bar_stations.open()
    outcome, _p = session(
        app,
        [
            {"protocol": "max_grip", "days": "daily",
             "params": {"hands": ["uninvolved"], "trials_per_hand": 1}},
            item("force_steadiness", **HOLDS),
        ],
        maximal=True,
        caps={"force_ceiling_pct_other_hand": 10.0, "max_force_n": 10.0},
        motor=motor(comfortable_fraction=0.3, force_match=12.0),
    )  # fmt: skip
    assert app.journal is not None
    (grip,) = app.journal.trials(outcome.session_id, "max_grip")
    got = trials(app, outcome, "force_steadiness")
    assert len(got) == 2
    for t in got:
        s = t.stimulus
        assert s["capped"] is True and s["wanted_n"] > s["target_n"]
        assert s["target_n"] == pytest.approx(0.1 * grip.response["peak_force_n"], rel=1e-3)
        assert "at_force_cap" in t.quality
        assert t.t_end_s - t.t_start_s < 8.0  # ended at the cap
    m = metrics(outcome, "force_steadiness")
    assert m["target_force"]["capped"] is True and m["holds"]["value"] == 0
    assert "steadiness_cv" not in m
