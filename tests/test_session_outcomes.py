"""Honest session outcomes (issue 10): what the patient sees and what the journal and the
clinic's summary say when a pain question is answered too fast, and when the patient
misses squeezes. Whole sessions on the simulated station, with the virtual patient acting
through the LCD, the buttons and the pads."""

from __future__ import annotations

from typing import Any

from test_session_e2e import (  # noqa: F401  (calibrated, stations: fixtures)
    Stations,
    assert_summarised,
    calibrated,
    events,
    grip_item,
    grip_trials,
    lcd_text,
    make_plan,
    patient,
    press,
    run,
    screens_showing,
    stations,
    when_lcd_shows,
)

from mqtt_bridge import schema


def valid_summary(body: dict[str, Any]) -> dict[str, Any]:
    schema.validate(body, schema.load("rehab.session/1"))
    return body


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
