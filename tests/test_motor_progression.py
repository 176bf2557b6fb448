"""Progressive loading of the bar tasks and the trend the summary names: the level moves
by the plan's step when the last session met its criterion, never past the plan's ceiling
(nor, through the capped target, the clinician's force ceiling: test_motor_steadiness);
real change is judged against the larger of the MDC and the results' own intervals, so
one session's noise is never flagged; a plateau and a regression are named.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SimCalibrations
from motor_bar import bar_station_set, ideal_pad, item, metrics, session, trials
from test_session_e2e import Stations

from station.journal import Trial
from station.protocols.base import MetricsContext
from station.protocols.motor.change import mdc95, real_change, sem_from_icc
from station.protocols.motor.progression import Point, loading, trend
from station.protocols.motor.steadiness import ForceSteadiness
from station.protocols.motor.tracking import ForceTracking


@pytest.fixture
def bar_stations(tmp_path: Path, sim_calibrations: SimCalibrations) -> Iterator[Stations]:
    yield from bar_station_set(tmp_path, sim_calibrations)


def hold(level: float, cv: float, plan: float = 10.0, session: str = "s") -> Trial:
    """A journalled steadiness hold as the protocol writes it (the fields metrics read)."""
    ref = {"force_n": 15.0, "uncertainty_n": 1.5, "source": "comfortable", "session": None}
    return Trial(
        protocol="force_steadiness",
        trial_index=0,
        hand="right",
        stimulus={
            "level_pct": level,
            "plan_level_pct": plan,
            "loading": {"level_pct": level, "previous_pct": None, "reason": "test"},
            "reference": ref,
            "target_n": 15.0 * level / 100,
            "capped": False,
            "band_n": 0.15,
        },
        response={
            "cv_pct": cv,
            "detrended_cv_pct": cv,
            "cvt_pct": cv,
            "mad_n": 0.05,
            "latency": {"force_p50_ms": 3.0},
        },
        reaction_time_s=None,
        contact_force_n=None,
        t_start_s=0.0,
        t_end_s=8.0,
    )


def met_below(limit: float):
    def met(trials: Any) -> bool | None:
        return trials[-1].response["cv_pct"] <= limit if trials else None

    return met


# -- the level from session to session --------------------------------------------------------


def test_progression_first_session_runs_the_plans_level() -> None:
    got = loading([], 10.0, 2.5, 25.0, met_below(5.0))
    assert (got.level_pct, got.previous_pct) == (10.0, None)


def test_progression_a_met_criterion_steps_up_an_unmet_one_holds() -> None:
    up = loading([[hold(12.5, 3.0)]], 10.0, 2.5, 25.0, met_below(5.0))
    assert (up.level_pct, up.previous_pct) == (15.0, 12.5)
    assert "one step up" in up.reason
    same = loading([[hold(12.5, 7.0)]], 10.0, 2.5, 25.0, met_below(5.0))
    assert same.level_pct == 12.5 and "not met" in same.reason


def test_progression_never_passes_the_plans_ceiling() -> None:
    got = loading([[hold(24.0, 3.0)]], 10.0, 2.5, 25.0, met_below(5.0))
    assert got.level_pct == 25.0 and "ceiling" in got.reason
    at = loading([[hold(25.0, 3.0)]], 10.0, 2.5, 25.0, met_below(5.0))
    assert at.level_pct == 25.0


def test_progression_a_new_prescription_starts_from_the_plans_level() -> None:
    got = loading([[hold(20.0, 3.0, plan=10.0)]], 5.0, 2.5, 25.0, met_below(5.0))
    assert got.level_pct == 5.0 and "new prescription" in got.reason


# -- real change ------------------------------------------------------------------------------


def test_change_noise_within_the_intervals_is_not_flagged_a_real_change_is() -> None:
    small = real_change(4.4, 0.4, 4.0, 0.4)
    assert not small.flag and small.direction is None
    big = real_change(6.5, 0.4, 4.0, 0.4)
    assert big.flag and big.direction == "worse"
    assert real_change(2.5, 0.3, 4.0, 0.3).direction == "better"
    assert real_change(2.5, 0.3, 4.0, 0.3, lower_is_better=False).direction == "worse"


def test_change_the_larger_of_the_mdc_and_the_own_interval_decides() -> None:
    sem = sem_from_icc(2.0, 0.815)  # Blomkvist 2018 CVM ICC, an SD of 2 points
    assert sem == pytest.approx(2.0 * 0.43012, rel=1e-4)
    mdc = mdc95(sem)
    assert mdc == pytest.approx(1.96 * 2**0.5 * sem)
    by_mdc = real_change(6.0, 0.1, 4.0, 0.1, mdc=mdc)
    assert not by_mdc.flag and by_mdc.rule == "MDC95"  # 2.0 < MDC95 2.38
    by_own = real_change(6.0, 1.0, 4.0, 1.0, mdc=0.5)
    assert not by_own.flag and by_own.rule.startswith("95 %")
    with pytest.raises(ValueError, match=r"0\.\.1"):
        sem_from_icc(2.0, 1.2)


# -- the trend the summary names ----------------------------------------------------------------


def test_trend_names_a_regression_a_plateau_and_progress() -> None:
    past = [Point(4.0, 0.3, 10.0, "b"), Point(4.1, 0.3, 10.0, "a"), Point(3.9, 0.3, 10.0, "z")]
    assert trend(Point(7.0, 0.3, 10.0), past, 3)["trend"] == "regression"
    plateau = trend(Point(4.05, 0.3, 10.0), past, 3)
    assert plateau["trend"] == "plateau" and "4 sessions" in plateau["note"]
    assert trend(Point(4.05, 0.3, 10.0), past[:2], 3)["trend"] == "steady"  # too few yet
    assert trend(Point(4.0, 0.3, 12.5), past, 3)["trend"] == "progress"  # the load rose
    assert trend(Point(4.0, 0.3, 10.0), [], 3)["trend"] is None


def test_steadiness_summary_names_a_plateau_and_a_regression_from_the_journal() -> None:
    proto = ForceSteadiness({"level_pct": 10.0, "plateau_sessions": 2})
    past = [("s2", "t2", [hold(10.0, 4.0)]), ("s1", "t1", [hold(10.0, 4.1)])]

    def ctx(history: list[tuple[str, str, list[Trial]]]) -> MetricsContext:
        return MetricsContext({"involved": "right"}, 0.1, history=lambda _name: history)

    flat = proto.metrics([hold(10.0, 4.05), hold(10.0, 3.95)], ctx(past))
    assert flat["steadiness_cv"]["progression"]["trend"] == "plateau"
    worse = proto.metrics([hold(10.0, 8.0), hold(10.0, 8.2)], ctx(past))
    got = worse["steadiness_cv"]["progression"]
    assert got["trend"] == "regression" and got["change"]["flag"] is True
    assert got["previous_session"] == "s2"


def test_tracking_criterion_is_the_time_in_band() -> None:
    proto = ForceTracking({"advance_in_band_pct": 70.0})

    def run(in_band: float) -> Trial:
        t = hold(20.0, 0.0)
        return Trial(**{**t.__dict__, "protocol": "force_tracking",
                        "response": {"rmse_n": 0.3, "in_band_pct": in_band}})  # fmt: skip

    assert proto.met([run(80.0), run(70.0)]) is True
    assert proto.met([run(60.0), run(70.0)]) is False
    assert proto.met([]) is None


# -- on the station, across sessions ------------------------------------------------------------


def test_progression_across_sessions_moves_the_target_up_to_the_ceiling(
    bar_stations: Stations,
) -> None:
    """Session 1 holds at the plan's 20 %; its CV meets the criterion, so session 2 goes
    one step up, held at the plan's ceiling of 22 %: its target force moves with it."""
    app = bar_stations.open()
    ideal_pad(app)
    plan = item("force_steadiness", trials=1, hold_s=8.0, level_pct=20.0, step_pct=5.0,
                max_level_pct=22.0, advance_cv_pct=10.0)  # fmt: skip
    first, _ = session(app, [plan], steadiness_cv=0.03)
    second, _ = session(app, [plan], steadiness_cv=0.03)
    (a,) = trials(app, first, "force_steadiness")
    (b,) = trials(app, second, "force_steadiness")
    assert a.stimulus["level_pct"] == 20.0 and b.stimulus["level_pct"] == 22.0
    ref_a, ref_b = (t.stimulus["reference"]["force_n"] for t in (a, b))
    assert a.stimulus["target_n"] == pytest.approx(0.20 * ref_a, rel=1e-3)
    assert b.stimulus["target_n"] == pytest.approx(0.22 * ref_b, rel=1e-3)
    m = metrics(second, "force_steadiness")
    assert m["level"]["value"] == 22.0
    assert m["level"]["loading"]["previous_pct"] == 20.0
    assert "ceiling" in m["level"]["loading"]["reason"]
    assert m["steadiness_cv"]["progression"]["trend"] == "progress"  # the load rose
