"""``rehab-station selftest``: which part is broken, and what to check.

Explains what it will do, asks on the station to start (``-y``: no person, unattended
checks only, the others named as skipped), runs the checks of ``hw_tests`` (a part that
does not start is left out and named), turns every motor off and closes the station
whatever happens, and prints one line per check: PASS, FAIL (with what to check and the
technician code) or SKIP. Exit 0 when every check passed, 1 when one failed, 2 when the
self-test could not run (bad arguments, an unknown fault, no GPIO or I2C access). The
report (``rehab.selftest/1``, ``--json`` prints it) also goes through the outbox to the
clinic. ``--sim`` tests the simulated station; ``--inject-fault FAULT`` (repeatable)
breaks one of its parts first.
"""

from __future__ import annotations

import argparse
import json
import socket
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from station import __version__


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "selftest",
        parents=parents,
        help="check every part: PASS/FAIL with what to check (exit 0 pass, 1 fail, 2 not run)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("--json", action="store_true", help="print the rehab.selftest/1 report")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GROUP",
        help="run only these check groups (repeatable or comma-separated)",
    )
    p.add_argument(
        "--skip", action="append", default=[], metavar="GROUP", help="leave these check groups out"
    )
    p.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="nobody at the station: run the unattended checks only",
    )
    p.add_argument(
        "--inject-fault",
        action="append",
        default=[],
        metavar="FAULT",
        help="--sim: break a simulated part first (e.g. motor-open:2; "
        "'--inject-fault help' lists them)",
    )
    p.add_argument("--seed", type=int, default=0, help="--sim: the simulated world's seed")
    p.add_argument(
        "--broker-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="how long to wait for the broker (default 5 s)",
    )
    p.set_defaults(func=run)


def _groups(values: list[str]) -> list[str]:
    return [g.strip() for v in values for g in v.split(",") if g.strip()]


def run(args: argparse.Namespace, ctx: Any) -> int:
    from hw_tests import faults as faults_mod
    from hw_tests import runner

    if "help" in args.inject_fault:
        for name, what in faults_mod.KNOWN.items():
            print(f"{name:<18} {what}")
        return 0
    try:
        faults = [faults_mod.parse(f) for f in args.inject_fault]
        if faults and not ctx.sim:
            raise faults_mod.FaultError("--inject-fault needs --sim (it breaks simulated parts)")
        faults_mod.check_targets(faults, ctx.config)
        steps = runner.select(_groups(args.only), _groups(args.skip))
    except ValueError as exc:
        print(f"rehab-station selftest: {exc}", file=sys.stderr)
        return 2
    out = _Output(args.json)
    which = "simulated" if ctx.sim else "this"
    injected = f", faults: {', '.join(map(str, faults))}" if faults else ""
    out.say(f"rehab-station selftest ({which} station{injected}). It will:")
    for line in runner.explain(steps, attended=not args.yes):
        out.say(line)
    out.say("Every motor is turned off at the end, whatever happens.")
    return _selftest(args, ctx, steps, faults, out)


class _Output:
    """Text for the technician: stdout, or stderr when stdout carries the JSON report."""

    def __init__(self, json_report: bool) -> None:
        self.stream = sys.stderr if json_report else sys.stdout

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


def _selftest(
    args: argparse.Namespace, ctx: Any, steps: list[Any], faults: list[Any], out: _Output
) -> int:
    """Run the checks, queue (and with MQTT on, send) the report; the exit code."""
    from hw_tests import report

    data_dir = ctx.ensure_data_dir()
    if ctx.sim:
        _sim_first_start(ctx, data_dir, args.seed)
    client = _client(ctx, faults)  # the broker probe, then the report's sender
    try:
        results = _checks(args, ctx, data_dir, steps, faults, client, out)
        if results is None:
            return 2
        body = report.report_body(
            results,
            __version__,
            simulated=ctx.sim,
            attended=not args.yes,
            faults_injected=[str(f) for f in faults],
        )
        _send(ctx, data_dir, body, client, out)
    finally:
        if client is not None:
            client.close()
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        _summary(results, out)
    return report.exit_code(results)


def _checks(
    args: argparse.Namespace,
    ctx: Any,
    data_dir: Path,
    steps: list[Any],
    faults: list[Any],
    client: Any,
    out: _Output,
) -> list[Any] | None:
    """Start the station (faults injected), run ``steps``, close it: the results, or None
    when the self-test could not run (the reason printed)."""
    from hw_tests import faults as faults_mod
    from hw_tests import runner, start
    from station.hardware import HardwareError

    chip_faults = [f for f in faults if f.kind not in faults_mod.COMMAND_FAULTS]
    try:
        station, left_out = start.start(
            ctx.config,
            data_dir,
            sim=ctx.sim,
            seed=args.seed,
            prepare_sim=lambda sim: faults_mod.inject_chips(chip_faults, ctx.config, sim),
        )
    except HardwareError as exc:
        print(f"rehab-station selftest: cannot run: {exc}", file=sys.stderr)
        return None
    technician = None
    try:
        if ctx.sim:
            faults_mod.inject_pins(chip_faults, ctx.config, station.sim)
            if not args.yes:  # the simulated station's technician answers its questions
                technician = _sim_technician(station)
        check_ctx = _context(args, ctx, station, left_out, faults, out)
        if client is not None:
            check_ctx.broker_probe = _probe(client, args.broker_timeout)
        if check_ctx.asker is not None and not _confirmed(check_ctx.asker):
            print("rehab-station selftest: not started: nobody confirmed", file=sys.stderr)
            return None
        results = runner.run(check_ctx, steps, progress=lambda r: out.say(r.line()))
        _show_outcome(check_ctx, results)
        return results
    finally:
        if technician is not None:
            technician.close()
        station.close()


def run_on_app(app: Any) -> list[Any]:
    """The self-test from the service menu, on the running station and its LCD alone:
    every step (a person is there), the outcome on the LCD, the report in the outbox."""
    from hw_tests import report, runner
    from hw_tests.ask import Asker
    from hw_tests.context import CheckContext, ProbeResult
    from mqtt_bridge import envelope
    from mqtt_bridge import outbox as outbox_mod

    st = app.station
    asker = Asker(app.ui.screens, st.buttons, st.clock, st.display)
    client = app.client
    probe = None
    if client is not None:
        probe = lambda: ProbeResult(  # noqa: E731
            client.connected,
            f"{client.broker}: " + ("connected" if client.connected else "not connected"),
        )
    synced: Callable[[], bool] = (lambda: True) if app.sim else envelope.clock_synced
    check_ctx = CheckContext(st, app.data_dir, asker=asker, broker_probe=probe, clock_synced=synced)
    asker.tell("selftest.running")
    results = runner.run(check_ctx, runner.select())
    _show_outcome(check_ctx, results)
    body = report.report_body(results, __version__, simulated=app.sim, attended=True)
    with app.journal.transaction() as conn:
        outbox_mod.enqueue(
            conn, "rehab.selftest/1", body, max_rows=app.config["mqtt"]["outbox_max_rows"]
        )
    return results


def _sim_technician(station: Any) -> Any:
    from hw_tests.sim_technician import SimTechnician

    return SimTechnician(station)


def _sim_first_start(ctx: Any, data_dir: Path, seed: int) -> None:
    """A simulated station without calibration records gets them as at its set-up: the
    simulated technician calibrates the healthy station once (faults come after)."""
    from station import hardware

    if any((data_dir / "calibration").glob("*.json")):
        return
    station = hardware.build(ctx.config, sim=True, data_dir=data_dir, seed=seed)
    station.close()


def _context(
    args: argparse.Namespace,
    ctx: Any,
    station: Any,
    left_out: dict[str, Any],
    faults: list[Any],
    out: _Output,
) -> Any:
    from hw_tests.ask import Asker
    from hw_tests.context import CheckContext
    from mqtt_bridge import envelope
    from ui_lcd.screens import Screens

    sections = ("pads", "haptics", "glove", "lcd")
    asker = None
    if not args.yes and station.buttons is not None:
        screens = Screens(ctx.config["lcd"]["size"])
        asker = Asker(screens, station.buttons, station.clock, station.display, out.say)
    synced: Callable[[], bool] = envelope.clock_synced
    if ctx.sim:  # the simulated station's clock is synchronised unless a fault says not
        unsynced = any(f.kind == "clock-unsynced" for f in faults)
        synced = lambda: not unsynced  # noqa: E731
    return CheckContext(
        station,
        ctx.data_dir,
        not_started=left_out,
        asker=asker,
        clock_synced=synced,
        fitted={s: bool(ctx.config[s]["fitted"]) for s in sections},
    )


def _confirmed(asker: Any) -> bool:
    return bool(asker.yes_no("tech.start"))


def _client(ctx: Any, faults: list[Any]) -> Any:
    """The station's MQTT client (the broker probe, then the report's sender), or None
    when MQTT is off. ``broker-down`` points it at a loopback port nobody listens on."""
    if not ctx.config["mqtt"]["enabled"]:
        return None
    from station import config as config_mod
    from station.app import App

    cfg = ctx.config
    if any(f.kind == "broker-down" for f in faults):
        cfg = config_mod.with_overrides(cfg, broker=f"mqtt://127.0.0.1:{_closed_port()}")
    client = App(cfg, ctx.data_dir, sim=ctx.sim).mqtt_client()
    client.start()
    return client


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _probe(client: Any, timeout_s: float) -> Callable[[], Any]:
    from hw_tests.context import ProbeResult
    from mqtt_bridge import outbox

    def probe() -> ProbeResult:
        if client.wait_ready(timeout_s):
            return ProbeResult(True, f"{client.broker}: connected, subscriptions accepted")
        link = outbox.read_link(client.db_path) or {}
        why = link.get("last_error") or "no answer"
        return ProbeResult(False, f"{client.broker}: not connected after {timeout_s:g} s: {why}")

    return probe


def _show_outcome(check_ctx: Any, results: list[Any]) -> None:
    """The outcome on the LCD: passed, or how many problems."""
    asker, display = check_ctx.asker, check_ctx.station.display
    if display is None:
        return
    from ui_lcd.screens import Screens

    screens = asker.screens if asker is not None else Screens(check_ctx.config["lcd"]["size"])
    n = sum(1 for r in results if r.failed)
    display.show(screens.prompt("tech.failed", failed=n) if n else screens.prompt("tech.passed"))


def _send(ctx: Any, data_dir: Path, body: dict[str, Any], client: Any, out: _Output) -> None:
    """Queue the report in the outbox; with MQTT on, give the client a moment to send it
    (what is not sent now goes with the station's next start)."""
    from drivers.clock import MonotonicClock
    from mqtt_bridge import outbox
    from station.paths import station_db

    try:
        max_rows = ctx.config["mqtt"]["outbox_max_rows"]
        with outbox.Outbox(station_db(data_dir), max_rows=max_rows) as ob:
            ob.enqueue("rehab.selftest/1", body)
    except (sqlite3.DatabaseError, outbox.OutboxFull) as exc:
        print(f"rehab-station selftest: report not queued for the clinic: {exc}", file=sys.stderr)
        return
    if client is None:
        out.say("report queued in the outbox (MQTT is off)")
        return
    clock = MonotonicClock()
    end = clock.now() + (5.0 if client.connected else 0.0)  # down: it goes next start
    while clock.now() < end and client.counts().pending > 0:
        clock.sleep(0.05)
    counts = client.counts()
    state = "queued for the clinic" if counts.pending else "handed to the broker"
    if counts.rejected:
        state = "REFUSED by the broker (its ACL): see 'rehab-station outbox'"
    out.say(f"report {state}")


def _summary(results: list[Any], out: _Output) -> None:
    n = {s: sum(1 for r in results if r.status == s) for s in ("PASS", "FAIL", "SKIP", "ERROR")}
    out.say(f"{n['PASS']} passed, {n['FAIL'] + n['ERROR']} failed, {n['SKIP']} skipped")
