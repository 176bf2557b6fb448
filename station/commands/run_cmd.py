"""``rehab-station run``: the station's main job.

On a Raspberry Pi (the systemd service): build the station, close any session a power cut
interrupted, send the outbox to the clinic, and wait at the menu; "Today's exercises" runs
today's session of the clinic's plan. SIGTERM or SIGINT turn the motors off, end a running
session as incomplete (journalled and summarised) and exit 0.

With ``--sim``: the simulated station runs one day's session with a virtual patient who
acts only through the LCD, the buttons and the pads; the LCD is drawn in the terminal and
the measured figures are printed beside what the virtual patient really did. ``--plan FILE``
runs today's session of a plan file instead of the built-in one, after validating it
exactly as the station validates a plan from MQTT (an invalid plan: the reason, exit 2).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from station.commands import _session_io as io

if TYPE_CHECKING:  # the app loads when the command runs (a fast --help)
    from station.app import App

log = logging.getLogger(__name__)

MENU = ("menu.today", "menu.selftest")
#: How long the end-of-session screen stays before the menu comes back.
GOODBYE_S = 20.0


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        parents=parents,
        help="the station's main job (with --sim: one session with a virtual patient)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    io.add_sim_options(p, default_speed=10.0)
    p.add_argument("--json", action="store_true", help="--sim: print the summary as JSON")
    p.add_argument(
        "--plan",
        metavar="FILE",
        help="--sim: run today's session of this plan (rehab.plan/1 JSON), validated as the "
        "station validates a plan from MQTT",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Any) -> int:
    plan = None
    if args.plan is not None:
        if not ctx.sim:
            print(
                "rehab-station: --plan needs --sim (a real station takes plans from MQTT)",
                file=sys.stderr,
            )
            return 2
        try:
            plan = io.plan_file(args.plan, ctx.config)
        except ValueError as exc:
            print(f"rehab-station: {args.plan}: {exc}", file=sys.stderr)
            return 2
    with io.open_app(args, ctx) as app:
        if app.recovered:
            log.warning("summarised %d interrupted session(s)", len(app.recovered))
        if ctx.sim:
            patient = io.start_patient(app, args)
            outcome = app.run_session(plan)
            patient.stop()
            hands = {} if outcome is None else io.hands(app.config)
            io.report(outcome, args.json, io.truth(patient, hands))
            _drain_outbox(app)
            return 0
        return _service(app)


def _drain_outbox(app: App, timeout_s: float = 10.0, ack_wait_s: float = 3.0) -> None:
    """With a broker, give the sender a moment to hand the summary over before exiting,
    and the clinic a moment to acknowledge it (what is not sent or not acknowledged now
    stays in the outbox and is sent again at the next start)."""
    from drivers.clock import MonotonicClock

    if app.client is None:
        return
    clock = MonotonicClock()  # the sender thread works in real time
    end = clock.now() + timeout_s
    while clock.now() < end and app.client.counts().pending > 0:
        clock.sleep(0.1)
    end = min(end, clock.now() + ack_wait_s)
    while clock.now() < end and app.client.counts().sent > 0:
        clock.sleep(0.05)


def _station_check(app: App) -> None:
    """The technician's self-test from the menu, on the LCD alone; OK goes back."""
    from station.commands import selftest_cmd
    from ui_lcd.buttons import StopPressed

    assert app.station is not None and app.ui is not None and app.safety is not None
    try:
        selftest_cmd.run_on_app(app)
    except Exception:
        log.exception("the self-test failed")
        app.safety.motors_off("failed self-test")
        app.ui.error("error.software", "E-SW-01")
    buttons = app.station.buttons
    assert buttons is not None
    try:
        buttons.wait_for(("ok",), GOODBYE_S)
    except StopPressed:
        buttons.clear_stop()


class _Exit(BaseException):
    """A signal at the menu (a BaseException: no ``except Exception`` may swallow it)."""


def _service(app: App) -> int:
    """The menu loop of a real station, until SIGTERM or SIGINT."""
    from ui_lcd.buttons import StopPressed
    from ui_lcd.widgets import Menu

    assert app.station is not None and app.ui is not None and app.safety is not None
    buttons = app.station.buttons
    assert buttons is not None

    def leave(signum: int, _frame: Any) -> None:
        if app.safety is not None:  # never I2C inside the handler: see motors_off_from_signal
            app.safety.motors_off_from_signal(signal.Signals(signum).name)
        raise _Exit(signal.Signals(signum).name)

    old = {s: signal.signal(s, leave) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            menu = Menu(MENU)
            since = app.station.clock.now()
            while menu.chosen is None:
                app.ui.show(app.ui.screens.menu(menu))
                try:
                    ev = buttons.wait_for(("ok", "left", "right"), 1.0, since_s=since)
                except StopPressed:
                    buttons.clear_stop()  # Stop at the menu: nothing runs; motors are off
                    app.safety.motors_off("stop at the menu")
                    continue
                if ev is not None:
                    since = ev.t_s
                    menu = menu.press(ev.key)
            if menu.chosen == "menu.selftest":
                _station_check(app)
                continue
            try:
                outcome = app.run_session()
            except Exception:
                # The session journalled what it could; the station stays up for the next.
                log.exception("the session failed")
                app.safety.motors_off("failed session")
                app.ui.error("error.software", "E-SW-01")
                outcome = None
            if outcome is not None and "received" in outcome.reason:
                return 0  # a signal ended the session: the service is stopping
            buttons.clear_stop()  # a Stop that ended the session has done its work
            try:
                buttons.wait_for(("ok",), GOODBYE_S)
            except StopPressed:
                buttons.clear_stop()  # Stop on the goodbye screen: back to the menu
    except _Exit as exc:
        log.info("%s: stopping", exc)
        return 0
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
