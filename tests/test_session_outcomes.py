"""Honest session outcomes (issue 10): what the patient sees and what the journal and the
clinic's summary say on a day with nothing to run, when a pain question is answered too
fast, when the patient misses squeezes, and when an interrupt lands anywhere while the
session's journal row is open. Whole sessions on the simulated station, with the virtual
patient acting through the LCD, the buttons and the pads."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from test_session_e2e import (  # noqa: F401  (calibrated, probe, stations: fixtures)
    Stations,
    assert_summarised,
    calibrated,
    drives_at,
    events,
    grip_item,
    grip_trials,
    lcd_text,
    make_plan,
    outbox_bodies,
    patient,
    press,
    probe,
    run,
    screens_showing,
    stations,
    vibration_item,
    when_lcd_shows,
)

from mqtt_bridge import schema
from station import summary as summary_mod
from station.app import App
from station.paths import station_db
from station.plan import DAYS


def session_rows(app: App) -> list[tuple[str, str, str | None]]:
    """(state, ended_reason, summary_msg_id) of every journalled session."""
    with sqlite3.connect(station_db(app.data_dir)) as conn:
        return conn.execute(
            "SELECT state, ended_reason, summary_msg_id FROM sessions ORDER BY id"
        ).fetchall()


def motors_off(app: App) -> bool:
    st = app.station
    assert st is not None and st.sim is not None
    return drives_at(app, st.clock.now()) == [0.0] * len(st.sim.chips.drvs)


def valid_summary(body: dict[str, Any]) -> dict[str, Any]:
    schema.validate(body, schema.load("rehab.session/1"))
    return body


# -- a day with nothing to run --------------------------------------------------------------


def test_session_nothing_planned_today_makes_no_session(
    stations: Stations,  # noqa: F811  (the fixture imported above)
) -> None:
    """A rest day in the plan: the patient is told, and there is no session to journal or
    to send (before, an empty check-in was journalled as a complete session)."""
    app = stations.open()
    p = patient(app)
    today = DAYS[app.today().weekday()]
    plan = make_plan(app, [{**grip_item(), "days": [d for d in DAYS if d != today]}])
    outcome = app.run_session(plan)
    p.stop()
    assert outcome is None
    assert session_rows(app) == [] and outbox_bodies(app) == {}
    assert lcd_text(app).startswith("Nothing planned today.")


def test_session_a_gated_protocol_beside_one_that_runs_is_still_complete(
    stations: Stations,  # noqa: F811  (the fixtures imported above)
    probe: Callable[[App], None],  # noqa: F811
) -> None:
    """The contract: a protocol the gates hold back does not count against a session in
    which another protocol ran."""
    app = stations.open()
    probe(app)
    p = patient(app)
    outcome = run(app, make_plan(app, maximal=False, extra=(vibration_item(duration_s=1.0),)))
    p.stop()
    assert (outcome.state, outcome.reason) == ("complete", "")
    assert events(outcome) == [("maximal_not_allowed", "S-GATE")]
    assert lcd_text(app).startswith("All done for today.")
    valid_summary(assert_summarised(app, outcome))


# -- pain questions -------------------------------------------------------------------------


def test_session_pain_questions_start_unset_so_an_early_ok_answers_nothing(
    stations: Stations,  # noqa: F811  (the fixture imported above)
) -> None:
    """OK pressed the moment a pain question appears (a press meant for the screen before):
    before, it recorded 0 at the check-in and the check-in's value at the end. Now the
    rating shows no value and waits for the patient's own answer."""
    app = stations.open()
    p = patient(app, "pain_flare", pain_rise_per_check=1)
    seen: list[str] = []

    def ok_at_once(t: float) -> None:
        seen.append(lcd_text(app))
        press(app, "ok")

    when_lcd_shows(app, "Pain in your hand", ok_at_once)  # the check-in
    when_lcd_shows(app, "Last one", ok_at_once)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 1)]))
    p.stop()
    assert len(seen) == 2 and all(text.endswith("< -- >") for text in seen)
    checkin = valid_summary(assert_summarised(app, outcome))["checkin"]
    # the patient's own answers: 2 today, one point more at the end
    assert (checkin["pain_before"], checkin["pain_after"]) == (2, 3)
    assert checkin["pain_stop_rule"] is None
    assert outcome.state == "complete"


# -- a patient who misses squeezes ----------------------------------------------------------


def test_session_no_squeeze_twice_after_a_re_prompt_gives_the_hand_up_not_complete(
    stations: Stations,  # noqa: F811  (the fixture imported above)
) -> None:
    """A patient who looks away every time: the first missed squeeze gets a kind re-prompt,
    the second in a row gives the hand up; the session names the rule and the trials lost."""
    app = stations.open()
    p = patient(app, "inattentive", lapse_rate=1.0)
    again = screens_showing(app, "try again")
    relax = screens_showing(app, "Relax your hand")
    outcome = run(app, make_plan(app, [grip_item(("involved",), 3)]))
    p.stop()
    assert (outcome.state, outcome.reason) == (
        "stopped",
        "max_grip: no squeeze on 2 tries in a row (right hand), 3 of 3 trials not done",
    )
    assert events(outcome) == [("no_effort", "S-PROTO")]
    detail = outcome.summary["safety_events"][0]["detail"]
    assert (detail["missed"], detail["trials_lost"], detail["trials_planned"]) == (2, 3, 3)
    # the re-prompt came between the two missed tries
    assert len(again) == 1 and len(relax) == 2 and relax[0] < again[0] < relax[1]
    # the patient never squeezed, and the station measured no squeeze
    assert p.peaks["right"] == []
    trials = grip_trials(app, outcome)
    assert [t.quality for t in trials] == [("no_effort",), ("no_effort",)]
    body = valid_summary(assert_summarised(app, outcome))
    assert body["complete"] is False
    assert body["protocols"][0]["metrics"]["involved_trials"]["value"] == 0


# -- interrupts while the session's journal row is open --------------------------------------


class Leave(BaseException):
    """What the handler from before the session raises (as the service's does)."""


@pytest.fixture
def handler_before() -> Iterator[list[int]]:
    """A SIGINT handler installed before the session, like the service's; the signals it
    got."""
    got: list[int] = []

    def leave(signum: int, _frame: Any) -> None:
        got.append(signum)
        raise Leave(signum)

    old = signal.signal(signal.SIGINT, leave)
    try:
        yield got
    finally:
        signal.signal(signal.SIGINT, old)


def raise_keyboard_interrupt(*_: Any, **__: Any) -> Any:
    raise KeyboardInterrupt


@pytest.mark.parametrize("where", ["watchdog_start", "checkin_question"])
def test_session_keyboard_interrupt_anywhere_is_journalled_incomplete(
    stations: Stations,  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """A KeyboardInterrupt outside the signal handlers' reach (before them, or raised by
    code rather than by SIGINT): before, the session was left open or journalled
    complete. Now it is incomplete, summarised, motors off, and the interrupt goes on."""
    app = stations.open()
    assert app.safety is not None and app.ui is not None
    p = patient(app)
    if where == "watchdog_start":
        monkeypatch.setattr(app.safety.watchdog, "start", raise_keyboard_interrupt)
    else:
        monkeypatch.setattr(app.ui, "ask_yes_no", raise_keyboard_interrupt)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        app.run_session(make_plan(app, [grip_item(("involved",), 1)]))
    p.stop()
    ((state, reason, msg_id),) = session_rows(app)
    assert (state, reason) == ("incomplete", "interrupted (KeyboardInterrupt)")
    body = valid_summary(outbox_bodies(app)[str(msg_id)])
    assert (body["state"], body["complete"]) == ("incomplete", False)
    assert [(e["kind"], e["code"]) for e in body["safety_events"]] == [("signal", "S-SIGNAL")]
    assert motors_off(app)
    assert signal.getsignal(signal.SIGINT) is before


def test_session_sigint_as_the_session_opens_ends_it_before_the_check_in(
    stations: Stations,  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = stations.open()
    assert app.journal is not None
    p = patient(app)
    welcomed = when_lcd_shows(app, "Hello", lambda t: None)
    real = app.journal.start_session

    def start_session(*args: Any) -> int:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C as the row is written
        return real(*args)

    monkeypatch.setattr(app.journal, "start_session", start_session)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 1)]))
    p.stop()
    assert (outcome.state, outcome.reason) == ("incomplete", "SIGINT received")
    assert events(outcome) == [("signal", "S-SIGNAL")]
    assert welcomed == [] and grip_trials(app, outcome) == []
    valid_summary(assert_summarised(app, outcome))


def test_session_sigint_while_the_session_closes_is_journalled_not_complete(
    stations: Stations,  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every protocol ran; SIGINT lands as the session closes, its row still open. Before,
    Python's own handler raised there and the row was left open; now the signal waits for
    the row and ends the session as interrupted."""
    app = stations.open()
    assert app.safety is not None
    p = patient(app)
    real = app.safety.watchdog.stop

    def stop_then_interrupt() -> None:
        real()
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(app.safety.watchdog, "stop", stop_then_interrupt)
    outcome = run(app, make_plan(app, [grip_item(("involved",), 1)]))
    p.stop()
    assert (outcome.state, outcome.reason) == ("incomplete", "SIGINT received")
    assert events(outcome) == [("signal", "S-SIGNAL")]
    assert len(grip_trials(app, outcome)) == 1  # the work done is kept
    valid_summary(assert_summarised(app, outcome))
    assert motors_off(app)


def test_session_sigint_after_the_row_is_closed_goes_on_to_the_handler_before(
    stations: Stations,  # noqa: F811  (the fixture imported above)
    monkeypatch: pytest.MonkeyPatch,
    handler_before: list[int],
) -> None:
    """SIGINT while the summary is written: the session had ended complete, and stays so;
    the summary is written, then the signal goes on to the handler from before the session
    (the service's, which stops it)."""
    app = stations.open()
    p = patient(app)
    real = summary_mod.write

    def write(*args: Any) -> str:
        signal.raise_signal(signal.SIGINT)
        return real(*args)

    monkeypatch.setattr(summary_mod, "write", write)
    with pytest.raises(Leave):
        app.run_session(make_plan(app, [grip_item(("involved",), 1)]))
    p.stop()
    assert handler_before == [signal.SIGINT]
    ((state, reason, msg_id),) = session_rows(app)
    assert (state, reason) == ("complete", "")
    assert valid_summary(outbox_bodies(app)[str(msg_id)])["complete"] is True
    assert lcd_text(app).startswith("All done for today.")
