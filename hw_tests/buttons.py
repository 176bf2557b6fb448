"""Buttons: none stuck down; with a person there, each one pressed within a timeout."""

from __future__ import annotations

from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed
from ui_lcd.keys import KEYS

PRESS_TIMEOUT_S = 20.0
#: A button still down this long after the check starts is stuck (not a finger leaving it).
STUCK_S = 1.0
LABELS = {"ok": "OK", "back": "Back", "left": "Left", "right": "Right", "stop": "Stop"}


def check(ctx: CheckContext) -> list[CheckResult]:
    """One result per button: released (a stuck button reads pressed all the time)."""
    buttons = ctx.station.buttons
    if buttons is None:
        return []
    deadline = ctx.clock.now() + STUCK_S
    buttons.poll()
    while any(buttons.is_pressed(k) for k in KEYS) and ctx.clock.now() < deadline:
        ctx.clock.sleep(0.05)
        buttons.poll()
    results = []
    for key in KEYS:
        name = f"buttons.{key}.released"
        pin = buttons.pins[key]
        if buttons.is_pressed(key):
            results.append(
                failed(
                    name,
                    f"the {LABELS[key]} button (GPIO {pin}) stays pressed with nobody on it",
                    "a stuck switch or a short to ground on its lead (buttons.* pins)",
                    "T-KEY-01",
                )
            )
        else:
            results.append(passed(name, f"GPIO {pin} released"))
    return results


def check_pressed(ctx: CheckContext) -> list[CheckResult]:
    """The technician presses each button in turn when asked."""
    buttons, asker = ctx.station.buttons, ctx.asker
    if buttons is None or asker is None:
        return []
    results = []
    for key in KEYS:
        name = f"buttons.{key}.pressed"
        since = ctx.clock.now()
        asker.tell("tech.press_button", button=LABELS[key])
        ev = asker.press((key,), PRESS_TIMEOUT_S, since)
        if key == "stop":
            buttons.clear_stop()  # the test's own press: nothing to stop
        if ev is not None:
            results.append(passed(name, f"pressed after {ev.t_s - since:.1f} s"))
        else:
            results.append(
                failed(
                    name,
                    f"no press of {LABELS[key]} within {PRESS_TIMEOUT_S:.0f} s",
                    f"the {LABELS[key]} switch, its lead and buttons.{key} "
                    f"(GPIO {buttons.pins[key]})",
                    "T-KEY-02",
                )
            )
    return results
