"""Force pads, unloaded: the reading (open or shorted), its noise, and tare drift.

Nothing may touch the pads. Each pad's input is read ``READS`` times, then again after
``DRIFT_WINDOW_S``. An unloaded FSR is > 10 MΩ (HARDWARE.md §6), so its divider reads a few
millivolts; a floating input (pad unplugged) reads full scale, a shorted FSR the supply,
and anything in between means something presses the pad or its FSR leaks.
"""

from __future__ import annotations

import statistics
from typing import Any

from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed

READS = 10
DRIFT_WINDOW_S = 2.0
#: Unloaded, the divider must read below this fraction of the supply (FSR > ~190 kΩ;
#: the break force, ~0.2 N, is ~30 kΩ: 25 % of the supply with a 10 kΩ divider).
UNLOADED_MAX_FRACTION = 0.05
#: A shorted FSR puts the supply on the input.
SHORTED_FRACTION = 0.95
NOISE_MAX_V = 0.005
DRIFT_MAX_V = 0.010
FULL_SCALE_COUNTS = 32767


def check(ctx: CheckContext) -> list[CheckResult]:
    """Three results per pad: unloaded reading, noise, drift."""
    pads = ctx.station.pads
    if pads is None:
        return []
    first = {c.pad: _reads(pads.adcs[c.adc], c.ain) for c in pads.layout}
    ctx.clock.sleep(DRIFT_WINDOW_S)
    second = {c.pad: _reads(pads.adcs[c.adc], c.ain) for c in pads.layout}
    supply = pads.nominal_supply_v
    results = []
    for c in pads.layout:
        adc, base = pads.adcs[c.adc], f"pads.pad{c.pad}"
        where = f"ADS1115 {c.adc} AIN{c.ain}"
        a, b = first[c.pad], second[c.pad]
        if isinstance(a, OSError):
            results.append(_no_reading(base, a, where))
            continue
        if isinstance(b, OSError):
            results.append(_no_reading(base, b, where))
            continue
        va = [adc.counts_to_volts(n) for n in a]
        vb = [adc.counts_to_volts(n) for n in b]
        results.append(_unloaded(f"{base}.unloaded", a + b, va + vb, supply, where))
        results.append(_noise(f"{base}.noise", va, vb, where))
        results.append(_drift(f"{base}.drift", va, vb, where))
    return results


def _reads(adc: Any, ain: int) -> list[int] | OSError:
    """``READS`` conversions of AIN``ain``, or the bus error that stopped them."""
    try:
        return [adc.read_single(ain) for _ in range(READS)]
    except OSError as exc:
        return exc


def _no_reading(name: str, exc: OSError, where: str) -> CheckResult:
    return failed(
        f"{name}.unloaded",
        f"no reading ({where}): {exc}",
        "the ADS1115 the pad is on: see its adcs check, its supply and cable",
        "T-PAD-06",
    )


def _unloaded(
    name: str, counts: list[int], volts: list[float], supply_v: float, where: str
) -> CheckResult:
    v = statistics.median(volts)
    shown = f"{v * 1000:.1f} mV unloaded ({where})"
    if max(counts) >= FULL_SCALE_COUNTS:
        return failed(
            name,
            f"{shown}: full scale, the input floats",
            "the pad is unplugged or a lead is broken: its connector and cable",
            "T-PAD-01",
        )
    if v >= SHORTED_FRACTION * supply_v:
        return failed(
            name,
            f"{shown}: the supply voltage, the FSR is shorted",
            "the pad's FSR leads (a short across them) and the overlay pressing it",
            "T-PAD-02",
        )
    if v >= UNLOADED_MAX_FRACTION * supply_v:
        return failed(
            name,
            f"{shown}: something presses the pad, or its FSR leaks",
            "take everything off the pad; if it stays, the pad's FSR or overlay",
            "T-PAD-03",
        )
    return passed(name, shown)


def _noise(name: str, before: list[float], after: list[float], where: str) -> CheckResult:
    # Within each window: a drift between them is the drift check's.
    noise = (statistics.pstdev(before) + statistics.pstdev(after)) / 2
    shown = f"{noise * 1000:.2f} mV rms ({where})"
    if noise > NOISE_MAX_V:
        return failed(
            name,
            f"{shown}, more than {NOISE_MAX_V * 1000:.0f} mV",
            "the pad's cable (a loose contact) and its screen, away from motor leads",
            "T-PAD-04",
        )
    return passed(name, shown)


def _drift(name: str, before: list[float], after: list[float], where: str) -> CheckResult:
    drift = statistics.median(after) - statistics.median(before)
    shown = f"{drift * 1000:+.2f} mV over {DRIFT_WINDOW_S:.0f} s ({where})"
    if abs(drift) > DRIFT_MAX_V:
        return failed(
            name,
            f"{shown}, more than {DRIFT_MAX_V * 1000:.0f} mV",
            "a pad still settling after a load, or a leaking FSR: recheck, then the pad",
            "T-PAD-05",
        )
    return passed(name, shown)
