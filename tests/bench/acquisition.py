"""Acquisition benchmark on the default simulated station.

Run from the repository root::

    .venv/bin/python tests/bench/acquisition.py [--seconds 5] [--realtime-seconds 3] [--json]

Station: 2 ADS1115 x 4 pads at 100 Hz per pad (DR 475, single-shot, MUX rotation) on a
400 kHz station bus; six LSM6DSOX at 104 Hz (FIFO, drained every 40 ms, one IMU per tick)
behind a TCA9548A on a 400 kHz glove bus. First on the simulated clock (figures of the loop
itself), then in real time on this machine's monotonic clock against the simulated buses
(poll-interval and pad-interval jitter; wire time is not waited for in that mode). CPU per
cycle excludes the simulated chips (timed separately) but on a Pi each ioctl adds host time
that is not in it (HARDWARE.md 4.1: 50-200 us, to be measured on the target).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stations import sim_station

from drivers.sim.clock import RealTimeClock
from sensors.bench import acquisition_figures


def run(seconds: float, realtime_s: float) -> dict[str, dict]:
    out = {"simulated_clock": figures(None, seconds)}
    if realtime_s > 0:
        out["real_time"] = figures(RealTimeClock(), realtime_s)
    return out


def figures(clock: RealTimeClock | None, seconds: float) -> dict:
    """The default station's pads and glove (no motors, no LCD), built by the product's
    wiring on ``clock`` (None: a simulated clock), measured for ``seconds``."""
    with tempfile.TemporaryDirectory() as data_dir:
        station = sim_station(Path(data_dir), fitted=["pads", "glove"], clock=clock)
        try:
            return acquisition_figures(station, seconds)
        finally:
            station.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--realtime-seconds", type=float, default=3.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = run(args.seconds, args.realtime_seconds)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    for mode, f in figures.items():
        pads, imus = f["pad_rate_hz"].values(), f["imu_rate_hz"].values()
        print(f"== {mode} ({f['clock']}, {f['seconds']} s, tick {f['period_ms']} ms) ==")
        print(f"  pad rate      {min(pads):7.2f} .. {max(pads):7.2f} Hz  (goal 100)")
        print(f"  IMU rate      {min(imus):7.2f} .. {max(imus):7.2f} Hz  (goal 104)")
        for bus, u in f["bus_utilisation"].items():
            print(f"  {bus:<7} bus   {100 * u:6.1f} % of the wire")
        print(f"  wire / cycle  {f['wire_per_cycle_us']:8.1f} us")
        print(
            f"  CPU / cycle   {f['cpu_per_cycle_us']:8.1f} us (p99 {f['cpu_per_cycle_p99_us']} us;"
            f" simulated chips {f['sim_chip_cpu_per_cycle_us']} us more)"
        )
        print(f"  CPU / wire    {100 * f['cpu_to_wire_ratio']:7.1f} %  (goal <= 10 %)")
        for key in ("poll_jitter_us", "pad_interval_jitter_us"):
            if key in f:
                print(f"  {key:<22} p50 {f[key]['p50']} us, p99 {f[key]['p99']} us")
        print(f"  events        {f['events'] or 'none'}")
        print(
            f"  memory        ring buffers {f['ring_buffers_kib']} KiB, allocations while"
            f" running {f['peak_traced_while_running_kib']} KiB, max RSS {f['max_rss_mib']} MiB"
        )
        print(f"  gap           {f['gap']}")


if __name__ == "__main__":
    main()
