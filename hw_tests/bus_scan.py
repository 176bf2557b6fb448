"""Bus scan: which addresses answer on each bus and behind each mux channel, against the
config (expected, missing, unexpected).

The station's own mux drivers keep a cached selection, so the scan reads each switch's
selection first and writes it back at the end: the station finds its buses as it left
them (gpiozero ``pintest``'s "restore").
"""

from __future__ import annotations

from typing import Any

from drivers.tca9548a import TCA9548A
from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed
from sensors.glove import WIRING

DRV2605L_ADDRESS = 0x5A


def _expected(ctx: CheckContext) -> dict[str, tuple[set[int], dict[int, dict[int, set[int]]]]]:
    """Per bus role: the addresses on the bus itself, and per mux address per channel the
    addresses behind it."""
    cfg = ctx.config
    out: dict[str, tuple[set[int], dict[int, dict[int, set[int]]]]] = {}

    def bus(role: str) -> tuple[set[int], dict[int, dict[int, set[int]]]]:
        return out.setdefault(role, (set(), {}))

    if ctx.is_fitted("pads"):
        bus("station")[0].update(cfg["pads"]["adc_addresses"])
    h = cfg["haptics"]
    if ctx.is_fitted("haptics") and h["driver"] == "drv2605l":
        top, muxes = bus("station")
        top.add(h["mux_address"])
        muxes[h["mux_address"]] = {ch: {DRV2605L_ADDRESS} for ch in h["channels"]}
    if ctx.is_fitted("glove"):
        top, muxes = bus("glove")
        top.add(cfg["glove"]["mux_address"])
        channels: dict[int, set[int]] = {}
        for _segment, ch, address in WIRING:
            channels.setdefault(ch, set()).add(address)
        muxes[cfg["glove"]["mux_address"]] = channels
    if ctx.is_fitted("lcd"):
        bus("lcd")[0].add(cfg["lcd"]["address"])
    return out


def check(ctx: CheckContext) -> list[CheckResult]:
    """One result per bus and one per mux channel in use."""
    results = []
    for role, (top, muxes) in _expected(ctx).items():
        bus = ctx.station.buses.get(role)
        name = f"bus.{role}"
        if bus is None:
            results.append(_not_open(ctx, name, role))
            continue
        results += _scan_bus(ctx, name, role, bus, top, muxes)
    return results


def _not_open(ctx: CheckContext, name: str, role: str) -> CheckResult:
    parts = ", ".join(sorted(ctx.not_started)) or "none"
    return failed(
        name,
        f"not scanned: no part on it started (did not start: {parts})",
        "see the identity checks below for the part that did not answer",
    )


def _scan_bus(
    ctx: CheckContext,
    name: str,
    role: str,
    bus: Any,
    top: set[int],
    muxes: dict[int, dict[int, set[int]]],
) -> list[CheckResult]:
    saved: dict[int, int] = {}
    switches = {a: TCA9548A(bus, a) for a in muxes}
    try:
        for address, mux in switches.items():
            saved[address] = _read_selection(mux)
            if saved[address] >= 0:
                mux.disable_all()
        found = set(bus.scan())
        results = [_compare(name, top, found, _bus_hint(ctx, role))]
        for address, channels in muxes.items():
            for ch, want in sorted(channels.items()):
                cname = f"{name}.mux0x{address:02X}.ch{ch}"
                if saved.get(address, -1) < 0:
                    results.append(
                        failed(
                            cname,
                            "not scanned: the mux does not answer",
                            f"check the mux at 0x{address:02X}",
                            "T-BUS-01",
                        )
                    )
                    continue
                switches[address].select(ch)
                behind = set(bus.scan()) - found
                switches[address].disable_all()
                results.append(_compare(cname, want, behind, _channel_hint(role, ch)))
    finally:
        for address, mask in saved.items():
            if mask >= 0:
                _restore(switches[address], mask)
    return results


def _read_selection(mux: TCA9548A) -> int:
    """The switch's selection, or -1 when it does not answer."""
    try:
        return mux.selected()
    except OSError:
        return -1


def _restore(mux: TCA9548A, mask: int) -> None:
    channels = [n for n in range(8) if mask & (1 << n)]
    if channels:
        mux.select(channels)
    else:
        mux.disable_all()


def _compare(name: str, want: set[int], found: set[int], hint: str) -> CheckResult:
    missing, extra = sorted(want - found), sorted(found - want)
    shown = " ".join(f"0x{a:02X}" for a in sorted(found)) or "nothing"
    if not missing and not extra:
        return passed(name, f"answers: {shown}")
    what = []
    if missing:
        what.append("missing " + " ".join(f"0x{a:02X}" for a in missing))
    if extra:
        what.append("unexpected " + " ".join(f"0x{a:02X}" for a in extra))
    code = "T-BUS-01" if missing else "T-BUS-02"
    return failed(name, f"{'; '.join(what)} (answers: {shown})", hint, code)


def _bus_hint(ctx: CheckContext, role: str) -> str:
    number = ctx.config["buses"][f"{role}_bus"]
    return (
        f"a missing address: that board's power, cable and address pins; an unexpected one: "
        f"the config's addresses (config check) or a board that should not be there; "
        f"'i2cdetect -y {number}' lists what answers"
    )


def _channel_hint(role: str, ch: int) -> str:
    if role == "glove":
        return f"the glove's cable and the two IMUs on mux channel {ch} (their SA0 pins)"
    return f"the motor driver board on mux channel {ch}: its cable and power (haptics.channels)"
