"""Faults the simulated station can be given (``selftest --sim --inject-fault FAULT``).

Each fault makes one simulated part fail the way the real one does, at the register or
pin level: a DRV2605L whose actuator is open or shorted, an FSR unplugged (the ADC input
floats) or shorted (the input at the supply), an IMU off the bus or answering another
WHO_AM_I, the LCD backpack off the bus, a button pin held low, the broker's port closed.
The checks then find it as they would on a Pi. The simulated chips are reached through
the handles the composition root gives ``prepare_sim`` (``station.sim``); nothing here
imports the simulator.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sensors.glove import WIRING
from station.hardware import pad_layout
from ui_lcd.keys import KEYS

#: Fault name -> what it does. Faults with a target take ``:N`` (default 0) or, for
#: buttons, ``:NAME`` (default ok).
KNOWN = {
    "motor-open": "motor N's actuator disconnected (DRV2605L diagnostics fail)",
    "motor-short": "motor N's leads shorted (diagnostics fail, OC_DETECT latches)",
    "motor-overtemp": "motor N's driver in thermal shutdown (OVER_TEMP)",
    "motor-overcurrent": "motor N's driver latched an over-current (OC_DETECT)",
    "pad-unplugged": "pad N's connector pulled: its ADC input floats to full scale",
    "pad-shorted": "pad N's FSR shorted: its ADC input sits at the supply",
    "pad-noisy": "pad N's input picks up 20 mV rms of noise",
    "pad-drift": "pad N's input drifts by 10 mV/s",
    "adc-brownout": "ADS1115 N restarts whenever a conversion starts (a sagging supply)",
    "imu-missing": "glove IMU N off the bus (order: " + ", ".join(s for s, _, _ in WIRING) + ")",
    "imu-wrong-id": "glove IMU N answers WHO_AM_I 0x6A (an LSM6DS3TR-C)",
    "imu-selftest": "glove IMU N's self-test output change too small",
    "lcd-missing": "the LCD backpack off the bus",
    "button-stuck": "button NAME's pin held low (pressed) all the time",
    "broker-down": "the broker's port closed",
    "clock-unsynced": "the wall clock not synchronised",
}
#: Faults applied by the command, not to the simulated chips.
COMMAND_FAULTS = ("broker-down", "clock-unsynced")
_NO_TARGET = ("lcd-missing", "broker-down", "clock-unsynced")


class FaultError(ValueError):
    """A fault the simulated station cannot be given; the message lists the known ones."""


@dataclass(frozen=True)
class Fault:
    kind: str
    target: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind

    @property
    def index(self) -> int:
        return int(self.target or 0)


def known_list() -> str:
    return "; ".join(f"{k} ({v})" for k, v in KNOWN.items())


def parse(text: str) -> Fault:
    """``motor-open:2`` -> Fault("motor-open", "2"). Raises :class:`FaultError`."""
    kind, _, target = text.strip().partition(":")
    if kind not in KNOWN:
        raise FaultError(f"unknown fault {text!r}; known faults: {known_list()}")
    if kind in _NO_TARGET and target:
        raise FaultError(f"fault {kind} takes no target, got {text!r}")
    if kind == "button-stuck":
        target = target or "ok"
        if target not in KEYS:
            raise FaultError(f"{text!r}: buttons are {', '.join(KEYS)}")
    elif kind not in _NO_TARGET:
        target = target or "0"
        if not target.isdigit():
            raise FaultError(f"{text!r}: the target must be a number, e.g. {kind}:1")
    return Fault(kind, target)


def check_targets(faults: Sequence[Fault], config: Any) -> None:
    """Raise :class:`FaultError` for a fault on a part the station does not have."""
    sizes = {
        "motor": len(config["haptics"]["channels"]) if config["haptics"]["fitted"] else 0,
        "pad": len(pad_layout(config["pads"])[0]) if config["pads"]["fitted"] else 0,
        "adc": len(config["pads"]["adc_addresses"]) if config["pads"]["fitted"] else 0,
        "imu": len(WIRING) if config["glove"]["fitted"] else 0,
    }
    for f in faults:
        prefix = f.kind.split("-")[0]
        if prefix in sizes and f.index >= sizes[prefix]:
            raise FaultError(
                f"{f}: the station has {sizes[prefix]} {prefix}(s)"
                + (f", numbered 0..{sizes[prefix] - 1}" if sizes[prefix] else "")
            )
        if f.kind == "lcd-missing" and not config["lcd"]["fitted"]:
            raise FaultError(f"{f}: the station has no LCD")


def inject_chips(faults: Sequence[Fault], config: Any, sim: Any) -> None:
    """Apply the chip-level faults to the simulated station's handles ``sim`` (before the
    station's drivers start, as ``prepare_sim``). A part the station was started without
    (it did not start: the fault did its work) is passed over."""
    chips, world = sim.chips, sim.world
    layout = pad_layout(config["pads"])[0] if config["pads"]["fitted"] else []
    for f in faults:
        if f.kind.startswith("motor-") and chips.drvs:
            _motor(chips.drvs[f.index], f.kind)
        elif f.kind == "pad-unplugged" and chips.adcs:
            world.pads[f.index].unplug()
        elif f.kind.startswith("pad-") and chips.adcs:
            channel = next(c for c in layout if c.pad == f.index)
            _pad_input(f.kind, chips.adcs[channel.adc], channel.ain, world, f.index)
        elif f.kind == "adc-brownout" and chips.adcs:
            chips.adcs[f.index].brownout_on_start = True
        elif f.kind.startswith("imu-") and chips.imus:
            _imu(chips.imus[WIRING[f.index][0]], f.kind)
        elif f.kind == "lcd-missing" and chips.lcd is not None:
            chips.lcd.unplug()


def inject_pins(faults: Sequence[Fault], config: Any, sim: Any) -> None:
    """Apply the pin-level faults once the station's buttons exist."""
    for f in faults:
        if f.kind == "button-stuck":
            sim.pin_factory.pin(config["buttons"][f.target]).drive_low()


def _motor(drv: Any, kind: str) -> None:
    if kind == "motor-open":
        drv.inject_actuator_fault("open")
    elif kind == "motor-short":
        drv.inject_actuator_fault("short")
    elif kind == "motor-overtemp":
        drv.inject_over_temp(True)
    else:
        drv.inject_over_current(True)


def _pad_input(kind: str, adc: Any, ain: int, world: Any, pad: int) -> None:
    if kind == "pad-shorted":
        adc.set_input(ain, world.nominal_supply_v)
        return
    fsr = world.pads[pad]
    if kind == "pad-noisy":
        rng = random.Random(pad)
        adc.set_input_source(ain, lambda t: fsr.voltage_at(t) + rng.gauss(0.0, 0.02))
    else:
        t0 = adc.clock.now()
        adc.set_input_source(ain, lambda t: fsr.voltage_at(t) + 0.010 * max(0.0, t - t0))


def _imu(imu: Any, kind: str) -> None:
    if kind == "imu-missing":
        imu.unplug()
    elif kind == "imu-wrong-id":
        imu.who_am_i = 0x6A
        imu.power_cycle()
    else:
        imu.self_test_accel_mg = (10.0, 10.0, 10.0)
