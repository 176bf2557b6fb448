"""motor_imagery on the simulated station: the virtual patient reads the timed script
screens, answers the check-in with its pain and presses OK or Back between rounds; the
session journals the practice time step by step, and takes the short imagery-only version
on a day the check-in pain limits physical practice.

One station for the module (no glove: the imagery touches no sensor); each test runs its
own short session on it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from test_session_e2e import (  # noqa: F401  (calibrated: a fixture)
    Stations,
    calibrated,
    make_plan,
)

from station.app import App
from station.journal import Journal
from station.kinds import DecisionKind, Scope
from station.protocols.motor.imagery import (
    LOW_EFFORT_FRACTION,
    LOW_EFFORT_PAIN_NRS,
    SCRIPTS,
    MotorImagery,
)
from station.runner import Outcome
from station.sim.motor_acts import MotorAbilities

SEED = 3


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory,
    calibrated: Path,  # noqa: F811  (the fixture imported above)
) -> Iterator[App]:
    stations = Stations(tmp_path_factory.mktemp("imagery"), calibrated)
    try:
        yield stations.open()
    finally:
        stations.close()


def imagery(**params: Any) -> dict:
    return {"protocol": "motor_imagery", "days": "daily", "params": {"minutes": 1.0, **params}}


def grip_once() -> dict:
    params = {"hands": ["involved"], "trials_per_hand": 1}
    return {"protocol": "max_grip", "days": "daily", "params": params}


def session(
    app: App, items: list[dict], maximal: bool = False, pain: int = 2, **motor: Any
) -> tuple[Outcome, list[str]]:
    """One session with a virtual patient of check-in ``pain``; the screens it showed."""
    st = app.station
    assert st is not None and st.sim is not None
    sim = st.sim
    truth = dataclasses.replace(MotorAbilities(), **motor)
    p = sim.patient(
        "typical", st.clock, app.config["buttons"], seed=SEED, pain_before=pain, motor=truth
    )
    screens: list[str] = []

    def look() -> None:
        text = " ".join(line.strip() for line in sim.lcd_lines())
        if not screens or screens[-1] != text:
            screens.append(text)

    handle = st.clock.every(0.05, look, "screens")
    p.start()
    try:
        outcome = app.run_session(make_plan(app, items, maximal=maximal))
    finally:
        p.stop()
        handle.cancel()
    assert outcome is not None
    return outcome, screens


def steps_of(app: App, outcome: Outcome) -> list[tuple[str, int, float]]:
    assert app.journal is not None
    trials = app.journal.trials(outcome.session_id, "motor_imagery")
    return [(t.stimulus["step"], t.stimulus["round"], t.response["practice_s"]) for t in trials]


@pytest.mark.parametrize(
    ("pain", "fatigue_stop", "plan", "reason"),
    [
        (LOW_EFFORT_PAIN_NRS - 1, False, "auto", None),
        (LOW_EFFORT_PAIN_NRS, False, "auto", "pain"),
        (LOW_EFFORT_PAIN_NRS - 1, True, "auto", "fatigue"),
        (0, False, "always", "plan"),
    ],
)
def test_motor_imagery_low_effort_reason_from_the_checkin_the_session_and_the_plan(
    tmp_path: Path, pain: int, fatigue_stop: bool, plan: str, reason: str | None
) -> None:
    """Today's check-in pain and a fatigue stop earlier in the session, as journalled."""
    journal = Journal(tmp_path / "station.db")
    try:
        sid = journal.start_session(1, ["max_grip", "motor_imagery"])
        other = journal.start_session(1, ["max_grip"])  # another session's stop: not today's
        journal.record_event(other, DecisionKind.FATIGUE, {"scope": Scope.FORCE})
        journal.set_checkin(sid, {"pain": pain, "new_numbness": False, "wound_problem": False})
        if fatigue_stop:
            journal.record_event(sid, DecisionKind.FATIGUE, {"scope": Scope.FORCE})
        ctx = SimpleNamespace(journal=journal, session_id=sid)
        proto = MotorImagery({"low_effort": plan})
        assert proto.low_effort_reason(ctx) == reason  # type: ignore[arg-type]
    finally:
        journal.close()


def test_motor_imagery_journals_practice_time_step_by_step(app: App) -> None:
    outcome, screens = session(app, [imagery(script="grip")])
    assert (outcome.state, outcome.reason) == ("complete", "")
    script = SCRIPTS["grip"]
    per_round = sum(s.seconds for s in script)  # 21 s: 3 rounds reach the minute
    rounds = 3
    expected = [(s.key, r, s.seconds) for r in range(1, rounds + 1) for s in script]
    assert steps_of(app, outcome) == expected
    m = outcome.summary["protocols"][0]["metrics"]
    assert m["practice_minutes"]["value"] == pytest.approx(rounds * per_round / 60, abs=1e-3)
    assert m["practice_minutes"]["unit"] == "min" and m["practice_minutes"]["script"] == "grip"
    assert m["steps_completed"]["value"] == len(expected)
    assert (m["rounds"]["value"], m["observation_steps"]["value"]) == (rounds, rounds)
    assert m["low_effort"]["value"] == 0.0 and m["low_effort"]["reason"] is None
    # the script's timing on the LCD, OK between rounds, and the action observation
    assert any(s.startswith("Imagine closing your") for s in screens)
    assert any("Watch your left hand" in s for s in screens)
    assert sum("Round 2 done." in s for s in screens) == 1
    assert not any("easy day" in s.lower() for s in screens)


def test_motor_imagery_takes_the_low_effort_path_on_a_high_pain_day(app: App) -> None:
    outcome, screens = session(app, [imagery(script="reach")], pain=LOW_EFFORT_PAIN_NRS)
    assert (outcome.state, outcome.reason) == ("complete", "")
    assert any(s.startswith("An easy day today.") for s in screens)
    imagined = [s for s in SCRIPTS["reach"] if not s.observation]
    per_round = sum(s.seconds for s in imagined)  # 14 s: 3 rounds reach the half minute
    assert 2 * per_round < 60 * LOW_EFFORT_FRACTION <= 3 * per_round
    expected = [(s.key, r, s.seconds) for r in (1, 2, 3) for s in imagined]
    assert steps_of(app, outcome) == expected
    m = outcome.summary["protocols"][0]["metrics"]
    assert (m["low_effort"]["value"], m["low_effort"]["reason"]) == (1.0, "pain")
    assert m["observation_steps"]["value"] == 0
    assert m["practice_minutes"]["value"] == pytest.approx(3 * per_round / 60, abs=1e-3)
    assert not any(s.startswith("Watch your") for s in screens)


def test_motor_imagery_the_plan_asks_for_the_short_version_and_back_stops_it(
    app: App,
) -> None:
    """The plan's ``low_effort: always`` on a day without pain; Back after the first round
    stops the practice, and what was practised counts (no stop rule, no event)."""
    outcome, screens = session(
        app, [imagery(script="fingers", low_effort="always")], imagery_rounds=1
    )
    assert (outcome.state, outcome.reason) == ("complete", "")
    assert any(s.startswith("An easy day today.") for s in screens)
    imagined = [s for s in SCRIPTS["fingers"] if not s.observation]
    assert steps_of(app, outcome) == [(s.key, 1, s.seconds) for s in imagined]
    m = outcome.summary["protocols"][0]["metrics"]
    assert (m["low_effort"]["value"], m["low_effort"]["reason"]) == (1.0, "plan")
    seconds = sum(s.seconds for s in imagined)  # 13 s, short of the half minute asked
    assert seconds < 60 * LOW_EFFORT_FRACTION
    assert m["practice_minutes"]["value"] == pytest.approx(seconds / 60, abs=1e-3)
    assert (m["rounds"]["value"], m["observation_steps"]["value"]) == (1, 0)
    assert outcome.summary["safety_events"] == []


def test_motor_imagery_a_pause_mid_step_flags_that_step_and_the_practice_goes_on(
    app: App,
) -> None:
    """Back held while "imagine holding the cup" shows: the pause screen, OK, and the step
    finishes; it is journalled as paused, its practice time still counts."""
    st = app.station
    assert st is not None and st.sim is not None
    sim = st.sim
    back = sim.button_pins(app.config["buttons"])["back"]
    held: list[float] = []

    def hold_back() -> None:
        if "Imagine holding the" in " ".join(sim.lcd_lines()) and not held:
            held.append(st.clock.now())
            back.drive_low()
            st.clock.call_later(0.5, back.drive_high)

    handle = st.clock.every(0.05, hold_back, "hold-back")
    try:
        outcome, screens = session(app, [imagery(script="grip")], imagery_rounds=1)
    finally:
        handle.cancel()
    assert len(held) == 1 and any(s.startswith("Paused.") for s in screens)
    assert (outcome.state, outcome.reason) == ("complete", "")
    assert app.journal is not None
    trials = app.journal.trials(outcome.session_id, "motor_imagery")
    assert [t.quality for t in trials] == [(), ("paused",), (), ()]
    kinds = [e["kind"] for e in outcome.summary["safety_events"]]
    assert kinds == ["paused", "resumed"]
    m = outcome.summary["protocols"][0]["metrics"]
    assert m["practice_minutes"]["value"] == pytest.approx(21 / 60, abs=1e-3)


def test_motor_imagery_declined_does_not_stop_the_force_work_after_it(app: App) -> None:
    """Back at the introduction (pressed by the test's hand, as the patient reads it):
    only the imagery ends; the grip protocol after it runs."""
    st = app.station
    assert st is not None and st.sim is not None
    sim = st.sim
    back = sim.button_pins(app.config["buttons"])["back"]
    pressed: list[float] = []

    def decline() -> None:
        if "Imagery practice" in " ".join(sim.lcd_lines()) and not pressed:
            pressed.append(st.clock.now())
            back.drive_low()
            st.clock.call_later(0.12, back.drive_high)

    handle = st.clock.every(0.05, decline, "decline")
    try:
        outcome, _screens = session(app, [imagery(), grip_once()], maximal=True)
    finally:
        handle.cancel()
    assert len(pressed) == 1
    assert outcome.state == "stopped"
    assert outcome.reason.startswith("motor_imagery: right hand declined")
    (event,) = outcome.summary["safety_events"]
    assert event["kind"] == DecisionKind.DECLINED and event["detail"]["scope"] == Scope.PROTOCOL
    imagery_result, grip = outcome.summary["protocols"]
    assert imagery_result["metrics"] == {}
    assert grip["metrics"]["involved_trials"]["value"] == 1
