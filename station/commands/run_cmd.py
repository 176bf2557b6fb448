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
With ``--interactive`` a person at the keyboard is the patient instead, in real time: the
keys press the buttons and squeeze and press the pads (the key list is on the screen).
On a terminal the LCD is redrawn in place and the log goes to a file named at the end;
otherwise each new screen is printed once, with its simulated time.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
from typing import TYPE_CHECKING, Any

from station.commands import _session_io as io
from station.logsetup import log_to_file
from ui_lcd.terminal import keys_unechoed

if TYPE_CHECKING:  # the app loads when the command runs (a fast --help)
    from station.app import App

log = logging.getLogger(__name__)

MENU = ("menu.today", "menu.selftest")
#: Simulated seconds per real second: watching a virtual patient, and playing one.
SPEED, INTERACTIVE_SPEED = 10.0, 1.0
#: A session a signal ended (``Outcome.reason``) -> the command's exit code, 128 + signal.
SIGNAL_EXITS = {"SIGINT received": 130, "SIGTERM received": 143}
#: The simulated station's log while the terminal shows its LCD (in the data directory).
SIM_LOG = "sim-run.log"
#: How long the end-of-session screen stays before the menu comes back.
GOODBYE_S = 20.0


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run",
        parents=parents,
        help="the station's main job (with --sim: one session with a virtual patient)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    io.add_sim_options(p, None, f"{SPEED:g}; {INTERACTIVE_SPEED:g}, real time, with --interactive")
    p.add_argument(
        "--interactive",
        action="store_true",
        help="--sim: you are the patient, at the keyboard (real time unless --speed)",
    )
    p.add_argument(
        "--max-force",
        type=_max_force_n,
        default=16.0,
        metavar="N",
        help="--interactive: the force a held Space squeeze reaches on the grip pad "
        "(default: 16 N)",
    )
    p.add_argument("--json", action="store_true", help="--sim: print the summary as JSON")
    p.add_argument(
        "--plan",
        metavar="FILE",
        help="--sim: run today's session of this plan (rehab.plan/1 JSON), validated as the "
        "station validates a plan from MQTT",
    )
    p.set_defaults(func=run)


def _max_force_n(text: str) -> float:
    """``--max-force``: newtons in 1..100 (an FSR pad reads up to about 20 N)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 1.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"must be a force in 1..100 N, got {text!r}")
    return value


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
    if args.interactive and not ctx.sim:
        print("rehab-station: --interactive needs --sim (the simulated station)", file=sys.stderr)
        return 2
    if not ctx.sim:
        with io.open_app(args, ctx) as app:
            return _service(app)
    if args.interactive and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("rehab-station: --interactive needs a terminal", file=sys.stderr)
        return 2
    if args.speed is None:
        args.speed = INTERACTIVE_SPEED if args.interactive else SPEED
    if not io.shows_lcd(args, ctx) and not args.interactive:
        return _simulate(args, ctx, plan)
    with log_to_file(ctx.ensure_data_dir() / SIM_LOG) as flog:
        try:
            return _simulate(args, ctx, plan)
        finally:
            print(flog.summary())  # named on every way out, a crash's traceback included


def _simulate(args: argparse.Namespace, ctx: Any, plan: Any) -> int:
    """One session on the simulated station, the virtual patient's or the keyboard's."""
    io.calibrate_first(args, ctx)
    if io.shows_lcd(args, ctx) and not args.interactive:
        print(_pace_note(args))
    quiet_keys = keys_unechoed() if sys.stdout.isatty() else contextlib.nullcontext()
    with io.open_app(args, ctx) as app:
        if app.recovered:
            log.warning("summarised %d interrupted session(s)", len(app.recovered))
        if args.interactive:
            from station.commands import _play

            outcome, player = _play.play(app, plan, args.max_force)
            io.report(outcome, args.json, _play.truth(player))
            if outcome is not None and outcome.reason in SIGNAL_EXITS:
                _drain_outbox(app)
                return SIGNAL_EXITS[outcome.reason]  # Ctrl-C: the shell's convention
        else:
            with quiet_keys:
                patient = io.start_patient(app, args)
                outcome = app.run_session(plan)
                patient.stop()
            hands = {} if outcome is None else io.hands(app.config)
            io.report(outcome, args.json, io.truth(patient, hands))
        _drain_outbox(app)
        return 0


def _pace_note(args: argparse.Namespace) -> str:
    """The line above a watched session: whose session, how fast, and the other ways."""
    pace = f"{args.speed:g}x real time" if args.speed else "as fast as the host goes"
    return (
        f"the virtual patient ({args.profile}) at {pace}: --speed 1 for real time, "
        "--interactive to be the patient yourself"
    )


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
