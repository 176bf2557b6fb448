"""``rehab-station calibrate pads|motors|glove``: guided calibration, stored per part.

The LCD and the terminal say what to do; the technician answers on the station's buttons
(OK to go on, Back to stop). Pads: each pad with known weights, one at a time, each read
once it sits still. Motors: the DRV2605L's auto-calibration, then the vibration at the
pad measured over a drive sweep by a glove IMU strapped flat on the pad (the glove must be
plugged in). Glove: a still pose. The new records are saved as the next version of each
part (the old ones are kept) only when every part is done: a calibration stopped half-way
changes nothing. The summary names each record and the age of the one it replaces. With
``--sim`` the simulated station's technician does it. Exit 0 saved, 1 stopped or failed
(nothing changed), 2 usage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

PARTS = {"pads": "pads", "motors": "haptics", "glove": "glove"}
#: The glove's IMUs (``sensors.glove.SEGMENTS``: numbered in this order) and the default
#: reference for the motors (the index fingertip: the easiest to strap on a pad).
IMUS = ("thumb", "index", "middle", "ring", "little", "back")
REFERENCE_IMU = "index"


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "calibrate",
        parents=parents,
        help="guided calibration of the pads, the motors or the glove",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("part", choices=tuple(PARTS), help="what to calibrate")
    p.add_argument(
        "--pad",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="pads: only this pad (repeatable; default: every pad)",
    )
    p.add_argument(
        "--motor",
        type=int,
        action="append",
        default=[],
        metavar="N",
        help="motors: only this motor (repeatable; default: every motor)",
    )
    p.add_argument(
        "--weights",
        metavar="N,N,...",
        help="pads: the weights in newtons (default 0.5,1,2,5,10,20)",
    )
    p.add_argument(
        "--reference-imu",
        type=_segment,
        default=REFERENCE_IMU,
        metavar="IMU",
        help="motors: the glove IMU strapped on each pad, by name (thumb, index, middle, "
        "ring, little, back) or number 0-5 (default: index, the fingertip)",
    )
    p.add_argument("--seed", type=int, default=0, help="--sim: the simulated world's seed")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Any) -> int:
    from station.hardware import HardwareError

    section = PARTS[args.part]
    if not ctx.config[section]["fitted"]:
        return _usage(f"the {args.part} are not fitted ({section}.fitted = false)")
    if args.part == "motors" and not ctx.config["glove"]["fitted"]:
        return _usage(
            "the motors are calibrated with a glove IMU strapped on each pad as the "
            "reference accelerometer, and no glove is fitted (glove.fitted = false): plug "
            "in a glove (a technician's own will do) and set glove.fitted = true, or use "
            "--config with a copy of the config that does (see docs/technician.md)"
        )
    try:
        weights = _weights(args.weights)
    except ValueError as exc:
        return _usage(str(exc))
    try:
        station = _build(ctx, args.seed)
    except HardwareError as exc:
        print(f"rehab-station calibrate: {exc}", file=sys.stderr)
        return 1
    try:
        which = _which(args, station)
    except ValueError as exc:
        station.close()
        return _usage(str(exc))
    try:
        return _calibrate(args, ctx, station, which, weights)
    finally:
        station.close()


def _segment(text: str) -> str:
    """A glove IMU by name or number (argparse type)."""
    name = text.strip().lower()
    if name.isdigit() and int(name) < len(IMUS):
        return IMUS[int(name)]
    if name in IMUS:
        return name
    raise argparse.ArgumentTypeError(
        f"no glove IMU {text!r}: one of {', '.join(IMUS)} or 0-{len(IMUS) - 1}"
    )


def _usage(message: str) -> int:
    print(f"rehab-station calibrate: {message}", file=sys.stderr)
    return 2


def _weights(text: str | None) -> tuple[float, ...]:
    from hw_tests.guided import WEIGHTS_N

    if text is None:
        return WEIGHTS_N
    try:
        weights = tuple(float(w) for w in text.split(","))
    except ValueError:
        raise ValueError(f"--weights must be numbers in newtons, got {text!r}") from None
    if len(weights) < 4 or sorted(weights) != list(weights) or weights[0] <= 0:
        raise ValueError(f"--weights needs at least 4 rising positive weights, got {text!r}")
    return weights


def _build(ctx: Any, seed: int) -> Any:
    from station import hardware

    data_dir = ctx.ensure_data_dir()
    return hardware.build(
        ctx.config, sim=ctx.sim, data_dir=data_dir, seed=seed, calibrate_sim=False
    )


def _which(args: argparse.Namespace, station: Any) -> list[int]:
    """The pads or motors asked for (default: all); ``ValueError`` for one not fitted."""
    if args.part == "glove":
        return []
    what, asked = ("pad", args.pad) if args.part == "pads" else ("motor", args.motor)
    n = station.pads.n_pads if args.part == "pads" else len(station.haptics.motors)
    bad = [i for i in asked if not 0 <= i < n]
    if bad:
        raise ValueError(f"no {what} {bad[0]}: the station has {what}s 0..{n - 1}")
    return asked or list(range(n))


def _calibrate(
    args: argparse.Namespace, ctx: Any, station: Any, which: list[int], weights: tuple[float, ...]
) -> int:
    from hw_tests.ask import Asker
    from hw_tests.guided import CalibrationAborted
    from sensors.calibration import CalibrationError
    from ui_lcd.buttons import StopPressed
    from ui_lcd.screens import Screens

    asker = Asker(
        Screens(ctx.config["lcd"]["size"]),
        station.buttons,
        station.clock,
        station.display,
        say=lambda text: print(text, flush=True),
    )
    technician = _sim_technician(station) if ctx.sim else None
    try:
        records = _procedure(args.part, args.reference_imu, station, asker, which, weights)
    except (CalibrationAborted, CalibrationError, StopPressed, ValueError) as exc:
        station.motors_off()
        why = "Stop pressed" if isinstance(exc, StopPressed) else str(exc)
        asker.show(asker.screens.prompt("tech.cal_stopped"))
        print(f"rehab-station calibrate: stopped: {why}; nothing was changed", file=sys.stderr)
        return 1
    finally:
        if technician is not None:
            technician.close()
    _save(station.calibrations, records)
    asker.show(asker.screens.prompt("tech.cal_saved"))
    return 0


def _sim_technician(station: Any) -> Any:
    from hw_tests.sim_technician import SimTechnician

    return SimTechnician(station)


def _procedure(
    part: str, imu: str, station: Any, asker: Any, which: list[int], weights: tuple[float, ...]
) -> list[Any]:
    """The unsaved records of ``part`` (``imu``: the motors' reference glove IMU)."""
    from hw_tests import guided

    if part == "pads":
        return list(guided.pads(station, asker, which, weights).values())
    if part == "motors":
        return list(guided.motors(station, asker, which, imu).values())
    return [guided.glove(station, asker)]


def _save(store: Any, records: list[Any]) -> None:
    """Save every record (the next version of its part) and say what it replaces."""
    now = dt.datetime.now(dt.UTC)
    for record in records:
        previous = store.latest(record.part, record.slot)
        stored = store.save(record)
        line = f"{stored.slot}: saved v{stored.version}"
        if stored.residuals:
            unit = " N" if stored.part == "pad" else ""
            line += f", largest residual {max(abs(r) for r in stored.residuals):.3f}{unit}"
        if previous is None:
            line += " (its first calibration)"
        else:
            line += f"; replaces v{previous.version} of {previous.date}, {_age(previous, now)}"
        print(line)


def _age(record: Any, now: dt.datetime) -> str:
    from hw_tests.calibration_age import age_days

    days = age_days(record, now)
    return "of unknown age" if days is None else f"{days:.0f} days old"
