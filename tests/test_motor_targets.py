"""Sub-maximal targets: under the caps always, and never under the pad's trusted range."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import SimCalibrations
from motor_bar import bar_station_set, item, metrics, session, trials
from test_session_e2e import Stations, events, press, when_lcd_shows

from station.plan import Caps
from station.protocols.motor.common import MIN_TARGET_N
from station.protocols.motor.steadiness import ForceSteadiness


def caps(max_force_n: float = 15.0, pct_other: float | None = None) -> Caps:
    return Caps(2.0, 20, max_force_n, 20, 20, 5, 2, force_ceiling_pct_other_hand=pct_other)


@pytest.mark.parametrize(
    ("wanted", "c", "other", "target"),
    [
        (4.0, caps(), None, 4.0),  # inside everything: as asked
        (0.23, caps(), None, MIN_TARGET_N),  # 5 % of a weak squeeze: raised to 0.5 N
        (20.0, caps(max_force_n=6.0), None, 6.0),  # the force cap
        (5.0, caps(pct_other=50.0), 8.0, 4.0),  # 50 % of the other hand's 8 N
        # the clinician's ceiling under the floor: the ceiling wins, never the floor
        (0.2, caps(pct_other=5.0), 6.0, 0.3),
    ],
)
def test_motor_targets_floor_and_caps(
    wanted: float, c: Caps, other: float | None, target: float
) -> None:
    proto = ForceSteadiness({})
    ctx = SimpleNamespace(caps=c)
    assert proto.capped_target(ctx, wanted, other) == pytest.approx(target)  # type: ignore[arg-type]


# -- on the simulated station ------------------------------------------------------------


@pytest.fixture
def bar_stations(tmp_path: Path, sim_calibrations: SimCalibrations) -> Iterator[Stations]:
    yield from bar_station_set(tmp_path, sim_calibrations)


def test_motor_a_declined_task_leaves_the_next_force_task_running(
    bar_stations: Stations,
) -> None:
    """Back on one task's first screen skips that task only: force work goes on."""
    app = bar_stations.open()
    clock = app.station.clock  # type: ignore[union-attr]
    when_lcd_shows(app, "Steady hold", lambda t: clock.call_later(0.2, lambda: press(app, "back")))
    steady = item("force_steadiness", trials=1, hold_s=8.0, rest_s=3.0)
    release = item("grip_release", trials=1, duration_s=5.0)
    outcome, _p = session(app, [steady, release])
    assert trials(app, outcome, "force_steadiness") == []
    assert events(outcome)[0] == ("declined", "S-PROTO")
    assert "force_steadiness: right hand declined or no answer" in outcome.reason
    assert len(trials(app, outcome, "grip_release")) == 1  # not skipped as force work
    assert metrics(outcome, "grip_release")["cycles_per_10s"]["value"] > 0


def test_motor_a_comfortable_squeeze_at_the_force_cap_is_the_reference(
    bar_stations: Stations,
) -> None:
    """The comfortable squeeze that stands in for a maximal one ends at the force cap (the
    caps hold): the cap is the reference, not "no squeeze"."""
    app = bar_stations.open()
    holds = item("force_steadiness", trials=1, hold_s=8.0, rest_s=3.0, level_pct=25.0)
    outcome, _p = session(app, [holds], caps={"max_force_n": 4.0})
    (t,) = trials(app, outcome, "force_steadiness")
    ref = t.stimulus["reference"]
    assert ref["source"] == "comfortable, at the force cap" and ref["force_n"] == 4.0
    assert t.stimulus["target_n"] == pytest.approx(1.0)
