"""The self-test's steps, in order, and the loop that runs them.

Each step is one function of a part's module over the :class:`CheckContext`; the groups
(``bus``, ``pads``, ``motors``, ...) are what ``--only`` and ``--skip`` name. Steps that
need a person (``attended``) are skipped, by name, when nobody is there. :func:`run`
pauses the acquisition loop (the checks talk to the chips themselves), turns every motor
off in ``finally`` and restarts the loop if it was running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from hw_tests import (
    adcs,
    broker,
    bus_scan,
    buttons,
    calibration_age,
    clock,
    identities,
    imus,
    lcd,
    motors,
    pads,
    storage,
)
from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, skipped
from ui_lcd.buttons import StopPressed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    group: str
    name: str
    fn: Callable[[CheckContext], list[CheckResult]]
    what: str
    attended: bool = False


STEPS = (
    Step("bus", "bus", bus_scan.check, "scan every I2C bus and mux channel against the config"),
    Step("identity", "identity", identities.check, "name every fitted chip that did not start"),
    Step("adcs", "adcs", adcs.check, "read back each ADS1115's config after a conversion"),
    Step("pads", "pads", pads.check, "read each pad unloaded: keep everything off the pads"),
    Step(
        "motors",
        "motors",
        motors.check,
        "run each motor driver's diagnostics and auto-calibration: the motors buzz",
    ),
    Step("motors", "motors.felt", motors.check_felt, "buzz each motor; say if you felt it", True),
    Step("imus", "imus", imus.check, "self-test each glove IMU: leave the glove flat and still"),
    Step("lcd", "lcd", lcd.check, "write a test pattern to the LCD"),
    Step("lcd", "lcd.pattern", lcd.check_seen, "say whether the LCD pattern looks right", True),
    Step("buttons", "buttons", buttons.check, "check that no button is stuck down"),
    Step("buttons", "buttons.pressed", buttons.check_pressed, "press each button when asked", True),
    Step("broker", "broker", broker.check, "connect to the clinic's broker"),
    Step("storage", "storage", storage.check, "check free space and the station database"),
    Step("clock", "clock", clock.check, "check that the clock is synchronised"),
    Step("calibration", "calibration", calibration_age.check, "check calibration ages"),
)
GROUPS = tuple(dict.fromkeys(s.group for s in STEPS))


def select(only: Collection[str] = (), skip: Collection[str] = ()) -> list[Step]:
    """The steps of the ``only`` groups (all when empty) less the ``skip`` groups.

    Raises ``ValueError`` naming an unknown group and the known ones.
    """
    unknown = sorted((set(only) | set(skip)) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown check group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    return [s for s in STEPS if (not only or s.group in only) and s.group not in skip]


def explain(steps: Sequence[Step], attended: bool) -> list[str]:
    """What the self-test will do, one line per step (the skipped ones named)."""
    lines = []
    for s in steps:
        if s.attended and not attended:
            lines.append(f"  - (skipped with -y: {s.what})")
        else:
            lines.append(f"  - {s.what}")
    return lines


def run(
    ctx: CheckContext,
    steps: Sequence[Step],
    progress: Callable[[CheckResult], None] = lambda _r: None,
) -> list[CheckResult]:
    """Run ``steps``; every result is also given to ``progress`` as it comes."""
    acquisition = ctx.station.acquisition
    was_running = acquisition is not None and acquisition.running
    if acquisition is not None:
        acquisition.stop()
    results: list[CheckResult] = []
    attended = ctx.asker is not None
    try:
        for step in steps:
            if step.attended and not attended:
                found = [skipped(step.name, "needs a person at the station (run without -y)")]
            else:
                found, stopped = _run_step(ctx, step)
                if stopped:
                    attended, ctx.asker = False, None
            for result in found:
                results.append(result)
                progress(result)
    finally:
        ctx.station.motors_off()
        if was_running and acquisition is not None:
            acquisition.start()
    return results


def _run_step(ctx: CheckContext, step: Step) -> tuple[list[CheckResult], bool]:
    """The step's results; a Stop press ends it (and every later question)."""
    try:
        return step.fn(ctx), False
    except StopPressed:
        ctx.station.motors_off()
        if ctx.station.buttons is not None:
            ctx.station.buttons.clear_stop()
        return [skipped(step.name, "stopped with the Stop button; no more questions")], True
    except Exception as exc:
        log.exception("self-test step %s failed", step.name)
        return [
            CheckResult(
                step.name,
                "ERROR",
                f"the check itself failed: {type(exc).__name__}: {exc}",
                "a bus or software problem: run again; if it repeats, report this line",
                "T-SW-01",
            )
        ], False
