"""ADS1115 config read-back: each chip holds the config the station wrote and converts.

One conversion of AIN0 is started; after the conversion time the config and conversion
registers are read straight off the bus. A chip that restarted (a supply dip, a loose
connector) reads "idle" with its power-on config 0x8583 and a zero conversion, which a pad
would show as a perfectly plausible 0 N: this check is what catches it. The driver is
initialised again afterwards (a known config and register pointer).
"""

from __future__ import annotations

from typing import Any

from drivers.ads1115 import DR_CODES, PGA_CODES
from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed

OS, MODE_SINGLE, MUX_AIN0 = 0x8000, 0x0100, 0x4000
REG_CONVERSION, REG_CONFIG = 0, 1
#: The fields compared: OS, MUX, PGA, MODE and DR (the comparator bits are not the pads').
FIELDS = 0xFFE0
POWER_ON_CONFIG = 0x8583


def check(ctx: CheckContext) -> list[CheckResult]:
    """One result per ADS1115."""
    pads = ctx.station.pads
    if pads is None:
        return []
    bus = ctx.station.buses["station"]
    addresses = ctx.config["pads"]["adc_addresses"]
    pairs = zip(pads.adcs, addresses, strict=True)
    return [_check_one(ctx, bus, adc, address) for adc, address in pairs]


def _check_one(ctx: CheckContext, bus: Any, adc: Any, address: int) -> CheckResult:
    name = f"adcs.0x{address:02X}"
    want = OS | MUX_AIN0 | MODE_SINGLE
    want |= PGA_CODES[adc.pga_v] << 9 | DR_CODES[adc.data_rate_sps] << 5
    try:
        adc.start_single(0)
        ctx.clock.sleep(adc.conversion_time_s())
        config = _read_register(bus, address, REG_CONFIG)
        conversion = _read_register(bus, address, REG_CONVERSION)
    finally:
        adc.init()
    shown = f"config 0x{config:04X}, conversion {conversion}"
    if config & FIELDS == want & FIELDS:
        return passed(name, shown)
    if config == POWER_ON_CONFIG and conversion == 0:
        return failed(
            name,
            f"{shown} after a conversion was started: the power-on values, so the chip "
            "restarted (its readings would look like an unloaded pad)",
            "the ADC board's 3.3 V supply, its connector and decoupling capacitor",
            "T-ADC-01",
        )
    return failed(
        name,
        f"{shown}, expected config 0x{want:04X}",
        "another chip at this address or corrupted reads: the ADDR pin and the pull-ups",
        "T-ADC-02",
    )


def _read_register(bus: Any, address: int, register: int) -> int:
    buf = bytearray(2)
    bus.readfrom_mem_into(address, register, buf)
    return int.from_bytes(buf, "big")
