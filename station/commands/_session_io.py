"""What ``run`` and ``session`` share: options, opening the app, the virtual patient, and
printing an outcome."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ui_lcd.terminal import ProgressBar, TerminalLCD, Transcript

if TYPE_CHECKING:  # the app and its parts load only when a command runs (a fast --help)
    from station.app import App
    from station.plan import Plan
    from station.runner import Outcome

#: The virtual patient's profiles (``station.sim.patient.PROFILES``; kept here so that
#: ``--help`` does not import the simulator).
PROFILES = (
    "typical",
    "fatigue_prone",
    "inattentive",
    "pain_flare",
    "walks_away",
    "improving",
    "numb_site",
)


def add_sim_options(
    p: argparse.ArgumentParser, default_speed: float | None, speed_default_note: str = ""
) -> None:
    """The ``--sim`` options; ``default_speed`` None: the command decides (and says how in
    ``speed_default_note``)."""
    g = p.add_argument_group("simulated station (--sim)")
    g.add_argument(
        "--profile",
        choices=PROFILES,
        default="typical",
        help="the virtual patient's abilities (default: typical)",
    )
    g.add_argument("--seed", type=int, default=1, help="seed of the simulated world and patient")
    note = speed_default_note or f"{default_speed:g}"
    g.add_argument(
        "--speed",
        type=float,
        default=default_speed,
        help=f"simulated seconds per real second, 0 = as fast as possible (default: {note})",
    )
    g.add_argument("--quiet", action="store_true", help="do not draw the LCD in the terminal")


def shows_lcd(args: argparse.Namespace, ctx: Any) -> bool:
    """Whether this command draws the simulated LCD on stdout."""
    return ctx.sim and not getattr(args, "quiet", False) and not getattr(args, "json", False)


def mirrors(args: argparse.Namespace, ctx: Any, now: Any) -> list[Any]:
    """The LCD on stdout: redrawn in place on a terminal, else a transcript of the screens
    stamped with ``now()`` (the simulated time)."""
    if not shows_lcd(args, ctx) or getattr(args, "interactive", False):
        return []  # --interactive: the play screen draws the LCD itself
    if sys.stdout.isatty():
        return [TerminalLCD(sys.stdout, ctx.config["lcd"]["size"], in_place=True)]
    return [Transcript(sys.stdout, now)]


def calibrate_first(args: argparse.Namespace, ctx: Any) -> None:
    """A simulated station's first start: the simulated technician calibrates the pads and
    motors (tens of seconds of simulated weighing) with a progress bar, unpaced, before
    the app opens and finds the records."""
    from station import hardware
    from station.storage import StorageError, check_data_dir

    if not ctx.sim:
        return
    data_dir = ctx.ensure_data_dir()
    try:  # an unusable data directory is named as the app names it, before any calibration
        check_data_dir(data_dir)
    except StorageError as exc:
        raise SystemExit(f"rehab-station: {exc}") from exc
    cal = data_dir / "calibration"
    if cal.is_dir() and any(cal.iterdir()):
        return
    stream = sys.stdout if shows_lcd(args, ctx) else None
    bar = ProgressBar(stream, "calibrating the simulated station (first start)") if stream else None
    watches: list[Any] = []

    def watch(handles: Any) -> None:
        if bar is not None:
            watches.append(handles.watch_calibration(bar.update))

    station = hardware.build(
        ctx.config,
        sim=True,
        data_dir=data_dir,
        seed=getattr(args, "seed", 0),
        prepare_sim=watch,
    )
    for w in watches:
        w.stop()
    station.close()
    if bar is not None:
        bar.finish()


def open_app(args: argparse.Namespace, ctx: Any) -> App:
    """The opened app; ``with open_app(...) as app`` closes it (entering does not reopen)."""
    if not ctx.sim and getattr(args, "profile", "typical") != "typical":
        raise SystemExit("rehab-station: --profile needs --sim (a virtual patient)")
    from station.app import App

    speed = getattr(args, "speed", 0.0) or None
    app = App(
        ctx.config, ctx.ensure_data_dir(), sim=ctx.sim, seed=getattr(args, "seed", 0), speed=speed
    )
    opened(app)
    if app.ui is not None and app.station is not None:
        app.ui.mirrors.extend(mirrors(args, ctx, app.station.clock.now))
    return app


def opened(app: App) -> App:
    """``app.open()``; a missing or wrong part or unusable storage is one line and exit 1."""
    from station.hardware import HardwareError
    from station.storage import StorageError

    try:
        return app.open()
    except (HardwareError, StorageError) as exc:
        raise SystemExit(f"rehab-station: {exc}") from exc


def plan_file(path: str, config: Any) -> Plan:
    """The plan in ``path``, validated exactly as the station validates a plan from MQTT:
    the contract's schema, then the station's own checks against its hardware.
    ``ValueError`` names the problem."""
    from mqtt_bridge.plans import PlanRejected, parse_plan
    from station import plan as plan_mod
    from station.catalog import StationAbilities

    try:
        payload = Path(path).read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read it ({exc.strerror})") from None
    try:
        doc = parse_plan(payload, config.station_id)
    except PlanRejected as exc:
        raise ValueError(f"plan refused: {exc.reason}") from None
    try:
        return plan_mod.from_dict(doc, config.station_id, StationAbilities.of(config))
    except plan_mod.PlanError as exc:
        raise ValueError(f"plan refused: {exc}") from None


def start_patient(app: App, args: argparse.Namespace) -> Any:
    st = app.station
    assert st is not None and st.sim is not None
    patient = st.sim.patient(args.profile, st.clock, app.config["buttons"], seed=args.seed)
    patient.start()
    return patient


def hands(config: Any) -> dict[str, str]:
    involved = config["station"]["involved_hand"]
    return {"involved": involved, "uninvolved": "left" if involved == "right" else "right"}


def truth(patient: Any, hands: dict[str, str]) -> dict[str, Any]:
    """What the virtual patient really did, to set beside the measurement."""
    return {
        "profile": getattr(patient, "profile_name", None),
        "max_grip_n": dict(patient.a.max_grip_n),
        "squeeze_peaks_n": {
            side: [round(f, 3) for f in patient.peaks.get(side, [])] for side in ("left", "right")
        },
        "hands": hands,
    }


def report(outcome: Outcome | None, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if outcome is None:
        reason = "no session: no usable plan, or nothing planned today (the LCD says which)"
        print(json.dumps({"state": "no_session", "reason": reason}) if as_json else reason)
        return
    if as_json:
        out = {"session_id": outcome.session_id, "msg_id": outcome.msg_id, **outcome.summary}
        if extra:
            out["simulation"] = extra
        print(json.dumps(out, indent=2))
        return
    s = outcome.summary
    why = f" ({s['ended_reason']})" if s["ended_reason"] else ""
    print(f"\nsession {s['session_id']}: {s['state']}{why}")
    for proto in s["protocols"]:
        print(f"  {proto['protocol']}: {proto['trials']} trials")
        for name, m in proto["metrics"].items():
            unc = f" ± {m['uncertainty']:.2f}" if m.get("uncertainty") is not None else ""
            hand = f" ({m['hand']})" if m.get("hand") else ""
            places = 0 if m["unit"] == "count" else 2
            # None: nothing to estimate from (a block cut short): said, not a crash
            value = "-" if m["value"] is None else f"{m['value']:.{places}f}"
            print(f"    {name:<24}{value:>9} {m['unit']}{unc}{hand}")
    for e in s["safety_events"]:
        detail = e["detail"] or {}
        what = detail.get("reason") or ", ".join(f"{k} {v}" for k, v in detail.items())
        print(f"  safety event: {e['kind']} [{e['code']}] {what}".rstrip())
    print("  summary queued for the clinic (rehab-station outbox shows its delivery)")
    if extra and extra.get("player") == "keyboard":
        shown = ", ".join(f"{f:.2f}" for f in extra["squeeze_peaks_n"]) or "none"
        print(f"  your Space squeezes' true peak forces on the grip pad (N): {shown}")
    elif extra:
        peaks = extra["squeeze_peaks_n"]
        for side in ("left", "right"):
            if peaks[side]:
                shown = ", ".join(f"{f:.2f}" for f in peaks[side])
                print(f"  the virtual patient's true peak forces, {side} hand (N): {shown}")
