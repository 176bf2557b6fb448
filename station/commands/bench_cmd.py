"""``rehab-station bench``: the station's performance figures, beside their limits.

Start-up to the idle menu; the acquisition loop (rates, bus load against wire time, host
CPU per cycle against the cycle's wire time); the LCD (wire time of a character, a full
redraw and a biofeedback-bar update); with ``--sim`` also the biofeedback latency (force
step on the pad to bar on the LCD, read back from the simulated chip), the motor tasks'
bar while a perfect virtual patient tracks a moving band (force-to-LCD latency, the error
the station adds) and a whole session with a virtual patient. Figures only: nothing here
passes or fails. Uses a throw-away data directory unless ``--data-dir`` is given.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from station.commands import _session_io as io


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        parents=parents,
        help="measure start-up, acquisition, LCD, biofeedback latency and a session",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    p.add_argument("--seconds", type=float, default=5.0, help="acquisition run (default 5 s)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument(
        "--quick",
        action="store_true",
        help="--sim: shorter runs for a smoke check (8 latency steps, 3 s of tracking, a "
        "session of one grip trial a hand): the same figures, with a wider spread",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Any) -> int:
    from drivers.clock import MonotonicClock
    from station import bench
    from station.app import App

    explicit = getattr(args, "data_dir", None)
    with tempfile.TemporaryDirectory(prefix="rehab-bench-") as tmp:
        data_dir = ctx.data_dir if explicit else Path(tmp)
        figures: dict[str, Any] = {"simulated": ctx.sim}
        wall = MonotonicClock()
        for label in ("first_start_s", "start_s"):  # first: the simulated technician calibrates
            t0 = wall.now()
            app = io.opened(App(ctx.config, data_dir, sim=ctx.sim, seed=1))
            figures[label] = round(wall.now() - t0, 3)
            if label == "first_start_s":
                app.close()
        try:
            figures["acquisition"] = bench.acquisition(app, args.seconds)
            if app.station is not None and app.station.display is not None:
                figures["lcd"] = bench.lcd(app)
            if ctx.sim:
                quick = bool(getattr(args, "quick", False))
                figures["biofeedback"] = bench.biofeedback_latency(app, steps=8 if quick else 20)
                figures["tracking"] = bench.tracking_latency(app, seconds=3.0 if quick else 6.0)
                plan = None
                if quick:
                    from station.plan import default_sim_plan

                    plan = default_sim_plan(app.config.station_id, app.today(), 1)
                figures["session"] = bench.session(app, plan=plan)
        finally:
            app.close()
        figures["max_rss_mib"] = bench.max_rss_mib()
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        _print(figures)
    return 0


def _print(f: dict[str, Any]) -> None:
    from station import bench

    print(f"station bench ({'simulated' if f['simulated'] else 'real'} station)")
    print(f"  start-up to idle: {f['start_s']:.2f} s (first start, with calibration: "
          f"{f['first_start_s']:.2f} s)")  # fmt: skip
    a = f["acquisition"]
    pads = list(a["pad_rate_hz"].values())
    imus = list(a["imu_rate_hz"].values())
    print("  acquisition:")
    if pads:
        print(f"    pads: {min(pads):.1f}..{max(pads):.1f} Hz per pad (goal 100 Hz)")
    if imus:
        print(f"    IMUs: {min(imus):.1f}..{max(imus):.1f} Hz per IMU (ODR 104 Hz)")
    for bus, u in a["bus_utilisation"].items():
        print(f"    {bus} bus: {100 * u:.1f} % busy (wire time / elapsed)")
    print(
        f"    host CPU per cycle {a['cpu_per_cycle_us']:.0f} us for {a['wire_per_cycle_us']:.0f}"
        f" us of wire: {100 * a['cpu_to_wire_ratio']:.1f} % (goal <= 10 %)"
    )
    if "lcd" in f:
        lcd = f["lcd"]
        print(f"  LCD ({lcd['size']}, {lcd['bus_hz'] // 1000} kHz):")
        print(f"    one character {lcd['one_char']['wire_ms']:.1f} ms, full redraw "
              f"{lcd['full_redraw']['wire_ms']:.1f} ms of wire")  # fmt: skip
        for name, what in (
            ("bar_screens_plain", "plain"),
            ("bar_screens", "with target band, jumping across it"),
            ("bar_screens_hold", "with target band, a steady hold"),
        ):
            bar = lcd[name]
            print(
                f"    biofeedback bar update, {what}: {bar['wire_ms']:.1f} ms "
                f"({100 * bar['ratio_to_full']:.0f} % of a full redraw, goal <= 10 %), "
                f"{lcd['max_rate_hz'][name]:.0f} updates/s at 25 % of the bus (goal 10/s)"
            )
    if "biofeedback" in f:
        b = f["biofeedback"]
        print(
            f"  biofeedback latency ({b['loop']}; force step to bar on the LCD, {b['steps']} "
            f"steps): first cell p50 {b['first_cell']['p50_ms']:.0f} ms, 90 % of the bar p50 "
            f"{b['ninety_percent']['p50_ms']:.0f} ms, p99 {b['ninety_percent']['p99_ms']:.0f}"
            f" ms ({b['p99_ratio_to_wire_limit']:.2f} x the {b['wire_limit_ms']:.0f} ms wire "
            f"limit; goal {b['goal_ms']:.0f} ms)"
        )
    if "tracking" in f:
        t = f["tracking"]
        lat = t["force_to_lcd"]
        print(
            f"  tracking ({t['profile']}, perfect virtual patient): force to LCD p50 "
            f"{lat['force_p50_ms']:.1f} ms, p99 {lat['force_p99_ms']:.1f} ms "
            f"({t['p99_ratio_to_wire_limit']:.2f} x the {t['wire_limit_ms']:.0f} ms wire limit;"
            f" goal p50 < {t['goal_p50_ms']:.0f}, p99 < {t['goal_p99_ms']:.0f} ms), target age "
            f"{lat['target_ms']:.1f} ms; error the station adds "
            f"{t['added_error_pct_of_rms']:.1f} % of the target's RMS (goal < 5 %)"
        )
    if "session" in f:
        s = f["session"]
        print(
            f"  session with a virtual patient: {s['state']}, {s['simulated_s']:.0f} s simulated"
            f" in {s['wall_s']:.1f} s ({s['speed_x_real_time']:.0f}x real time)"
        )
    print(f"  peak memory (RSS): {f['max_rss_mib']:.0f} MiB (goal < {bench.RSS_GOAL_MIB:.0f} MiB)")
