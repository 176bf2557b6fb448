"""Bus figure: one ADS1115 sweeping its four force pads in single-shot mux rotation.

Run from the repository root::

    .venv/bin/python tests/bench/wire_ads1115.py

The real driver runs against the simulated chip on the simulated bus. Wire time is what the
bus counts (9 bits a byte, 1 per START/Sr, 1 per STOP). Two ways to convert one pad:

* ``read_single``: the driver's method. Config write (38 bits), sleep 1.1/DR, OS check
  without a pointer write (29 bits), conversion read with the pointer write (48 bits).
* ``start+sleep+read``: the HARDWARE.md §4.2 model. Config write, sleep 1.1/DR, conversion
  read (48 bits); nothing proves the result is fresh.

Conversions per second are sequential on one chip: conversion time plus wire time (plus the
per-transaction host overhead when set), compared with §4.2 (400 kHz: 669 conv/s, or 557 with
150 us per ioctl; 100 kHz: 468 conv/s).
"""

from __future__ import annotations

from drivers.ads1115 import ADS1115
from drivers.sim.ads1115 import SimADS1115
from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock

ADDRESS = 0x48
SWEEPS = 200
#: HARDWARE.md §4.2, DR 860, one chip, sequential: (bus Hz, host overhead s) -> conv/s.
HARDWARE_MD = {(400_000, 0.0): 669, (400_000, 150e-6): 557, (100_000, 0.0): 468}


def station(speed_hz: int, dr_sps: int, overhead_s: float) -> tuple[SimClock, SimI2CBus, ADS1115]:
    clock = SimClock()
    bus = SimI2CBus(clock, speed_hz, "station", log_size=64, host_overhead_s=overhead_s)
    chip = SimADS1115(clock, bus_hz=speed_hz)
    for ch, volts in enumerate((0.4, 0.9, 1.6, 2.5)):
        chip.set_input(ch, volts)
    bus.attach(ADDRESS, chip)
    adc = ADS1115(bus, ADDRESS, clock, pga_v=4.096, data_rate_sps=dr_sps)
    adc.init()
    return clock, bus, adc


def sweep_read_single(adc: ADS1115) -> list[int]:
    return [adc.read_single(ch) for ch in range(4)]


def sweep_start_sleep_read(adc: ADS1115, clock: SimClock) -> list[int]:
    out = []
    for ch in range(4):
        adc.start_single(ch)
        clock.sleep(adc.conversion_time_s())
        out.append(adc.read_raw())
    return out


def run(speed_hz: int, dr_sps: int, method: str, overhead_s: float = 0.0) -> dict[str, float]:
    clock, bus, adc = station(speed_hz, dr_sps, overhead_s)
    bus.reset_stats()
    t0 = clock.now()
    first: list[int] = []
    for i in range(SWEEPS):
        if method == "read_single":
            counts = sweep_read_single(adc)
        else:
            counts = sweep_start_sleep_read(adc, clock)
        if i == 0:
            first = counts
    elapsed = clock.now() - t0
    conversions = 4 * SWEEPS
    return {
        "sweep_wire_us": 1e6 * bus.stats.wire_s / SWEEPS,
        "bits_per_conv": bus.stats.bits / conversions,
        "txn_per_conv": bus.stats.transactions / conversions,
        "conv_per_s": conversions / elapsed,
        "pad_hz": SWEEPS / elapsed,
        "counts_ok": float(first == [3200, 7200, 12800, 20000]),
    }


def main() -> None:
    print(f"One ADS1115, 4 pads, single-shot rotation, {SWEEPS} sweeps, simulated bus\n")
    print(
        f"{'bus':>7} {'DR':>4} {'host/txn':>8} {'method':>17} {'sweep wire':>11} "
        f"{'bits/conv':>9} {'txn/conv':>8} {'conv/s':>7} {'Hz/pad':>7} {'HW.md 4.2':>9}"
    )
    cases = [
        (400_000, 475, 0.0),
        (400_000, 860, 0.0),
        (400_000, 860, 150e-6),
        (100_000, 860, 0.0),
    ]
    operating: dict[str, float] = {}
    for speed_hz, dr, overhead_s in cases:
        for method in ("read_single", "start+sleep+read"):
            r = run(speed_hz, dr, method, overhead_s)
            ref = HARDWARE_MD.get((speed_hz, overhead_s)) if dr == 860 else None
            if not r["counts_ok"]:
                raise SystemExit(f"{method} read wrong counts at {speed_hz} Hz, DR {dr}")
            if (speed_hz, dr, overhead_s, method) == (400_000, 475, 0.0, "read_single"):
                operating = r
            print(
                f"{speed_hz // 1000:>4}kHz {dr:>4} {overhead_s * 1e6:>6.0f}us {method:>17} "
                f"{r['sweep_wire_us']:>8.1f} us {r['bits_per_conv']:>9.0f} "
                f"{r['txn_per_conv']:>8.0f} {r['conv_per_s']:>7.0f} {r['pad_hz']:>7.1f} "
                f"{ref if ref else '-':>9}"
            )
    load = 800 * operating["bits_per_conv"] / 400_000
    print(
        f"\n8 pads x 100 Hz with read_single, 400 kHz: {100 * load:.0f} % of the bus "
        f"(HARDWARE.md 4.2: 17 % at 86 bits per conversion)."
    )
    print(
        f"Per-pad ceiling at DR 475 with 4 pads per chip: {operating['pad_hz']:.1f} Hz "
        "(4 x (1.1/DR + wire));\n100 Hz per pad needs DR 860, at most 3 pads per chip, or the "
        "ALERT/RDY pin (no 10 % margin: 4 x (1/DR + 215 us) = 9.3 ms, 108 Hz)."
    )


if __name__ == "__main__":
    main()
