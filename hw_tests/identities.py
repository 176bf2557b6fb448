"""Chip identities: every fitted chip answered at start and is the chip expected.

The station's parts check identities as they start (DRV2605L DEVICE_ID, LSM6DSOX WHO_AM_I,
ADS1115 config read-back, TCA9548A control read-back, the LCD backpack's ACK); a part that
failed is named here with the error and the code its start-up gave, and the self-test
went on without it.
"""

from __future__ import annotations

from hw_tests.context import CheckContext
from hw_tests.report import CheckResult, failed, passed

#: Config section -> the part name of :class:`~station.hardware.HardwareError`.
PARTS = {"pads": "pads", "haptics": "motors", "glove": "glove", "lcd": "lcd"}


def check(ctx: CheckContext) -> list[CheckResult]:
    """One result per fitted part."""
    results = []
    for section, part in PARTS.items():
        if not ctx.is_fitted(section):
            continue
        name = f"identity.{part}"
        error = ctx.not_started.get(part)
        if error is not None:
            message = str(error)
            detail, _, hint = message.partition(". Check ")
            hint = hint.rstrip(".") if hint else "the part named in the detail"
            results.append(failed(name, detail, hint, error.code or "E-BUS-121"))
        else:
            results.append(passed(name, _found(ctx, part)))
    return results


def _found(ctx: CheckContext, part: str) -> str:
    st = ctx.station
    if part == "pads" and st.pads is not None:
        return f"{len(st.pads.adcs)} ADS1115 kept their config"
    if part == "motors" and st.haptics is not None:
        ids = sorted({getattr(m, "device_id", -1) for m in st.haptics.motors})
        shown = ", ".join(str(i) for i in ids if i >= 0)
        return f"{len(st.haptics.motors)} drivers" + (f", DEVICE_ID {shown}" if shown else "")
    if part == "glove" and st.glove is not None:
        return f"{len(st.glove.imus)} LSM6DSOX, WHO_AM_I 0x6C"
    return "PCF8574 backpack answers, HD44780 initialised"
