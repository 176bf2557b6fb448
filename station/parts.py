"""The station's parts, built from the config over the buses and pin factory they are given.

:func:`assemble` is the same for the real and the simulated station: the composition root
(:mod:`station.hardware`) decides which buses and pins, this module makes the drivers,
sensors and LCD objects on them. :meth:`Station.close` turns the motors off first, then
closes the parts in the reverse order of construction and never raises.

The LCD is built first, so that a fitted chip that does not answer (or is another chip) at
start can be shown on it: every bus error or identity mismatch while a part is built or
initialised becomes a :class:`~station.part_errors.HardwareError` naming the part, the chip,
its bus and address and what to check, the parts built so far are closed, and the LCD (if
it came up) keeps an error screen with a technician code (``E-PAD-121``).

The simulator stays on the other side of :func:`assemble`: a :class:`Station` carries what
the composition root gives it as ``sim`` (its type a parameter, ``Station[SimHandles]``
for the simulated station, ``Station[None]`` for a real one) and never looks inside.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from drivers.ads1115 import ADS1115
from drivers.drv2605l import DRV2605L
from drivers.hd44780 import HD44780
from drivers.lsm6dsox import LSM6DSOX
from drivers.tca9548a import TCA9548A
from sensors.acquisition import Acquisition
from sensors.calibration import CalibrationStore
from sensors.dose import DoseLedger
from sensors.faults import SensorFault
from sensors.force_pads import ForcePads, PadChannel, SupplyReference, default_layout
from sensors.glove import WIRING, Glove
from sensors.haptics import Haptics, VibrationCaps
from sensors.pwm_motor import PwmMotor
from station.config import Config
from station.part_errors import PARTS, HardwareError, starting
from ui_lcd.buttons import KEYS, Buttons
from ui_lcd.cues import Cues
from ui_lcd.display import Display
from ui_lcd.screens import Screens

log = logging.getLogger(__name__)

DRV2605L_ADDRESS = 0x5A
#: ADS1115 full-scale ranges, smallest first: the pads use the smallest that holds the
#: divider supply, so a pad pressed hard never clips (clipping reads as an open pad).
ADS1115_RANGES_V = (4.096, 6.144)


def ads1115_range_v(supply_v: float) -> float:
    """The ADS1115 full-scale range for a divider supply of ``supply_v``."""
    return next((r for r in ADS1115_RANGES_V if supply_v <= r), ADS1115_RANGES_V[-1])


#: What a simulated station carries beside its parts (``station.sim.handles.SimHandles``,
#: given by the composition root); None on a real station. This module never sees its type.
SimT = TypeVar("SimT")


@dataclass
class Station(Generic[SimT]):
    config: Config
    clock: Any
    buses: dict[str, Any]
    pin_factory: Any
    calibrations: CalibrationStore
    ledger: DoseLedger
    sim: SimT  # the simulated station's world, buses and chips; None on a real station
    pads: ForcePads | None = None
    haptics: Haptics | None = None
    glove: Glove | None = None
    acquisition: Acquisition | None = None
    display: Display | None = None
    buttons: Buttons | None = None
    cues: Cues | None = None
    #: Parts without a calibration record ("pad0", "motor2"): they are not used.
    uncalibrated: list[str] = field(default_factory=list)
    faults: list[SensorFault] = field(default_factory=list)
    _closers: list[tuple[str, Callable[[], None]]] = field(default_factory=list)

    def on_close(self, name: str, fn: Callable[[], None]) -> None:
        self._closers.append((name, fn))

    def start(self) -> None:
        """Start the acquisition loop."""
        if self.acquisition is not None:
            self.acquisition.start()

    def motors_off(self) -> None:
        if self.haptics is not None:
            self.haptics.stop_all()

    def motors_running(self) -> bool:
        """Whether a motor may be vibrating (driven, or its stop not confirmed)."""
        return self.haptics is not None and self.haptics.running()

    def _on_fault(self, fault: SensorFault) -> None:
        # Called from the acquisition loop: any sensor fault stops stimulation at once.
        self.faults.append(fault)
        try:
            self.motors_off()
        except Exception:
            log.exception("motors off after %s failed", fault)

    def close(self) -> None:
        """Motors off, then every part in reverse order of construction; never raises."""
        try:
            self.motors_off()
        except Exception:
            log.exception("motors off at close failed")
        while self._closers:
            name, fn = self._closers.pop()
            try:
                fn()
            except Exception:
                log.exception("closing %s failed", name)

    def __enter__(self) -> Station:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def assemble(
    config: Config,
    clock: Any,
    buses: dict[str, Any],
    pin_factory: Any,
    store: CalibrationStore,
    sim: SimT,
) -> Station[SimT]:
    """The station's parts over ``buses`` and ``pin_factory``; ``sim`` is kept as
    ``Station.sim`` (the simulated world's handles, or None)."""
    station = Station(config, clock, buses, pin_factory, store, DoseLedger(), sim)
    for role, bus in buses.items():
        station.on_close(f"{role} bus", bus.close)
    try:
        _build_display(station)  # first: it can show why another part failed
        _build_pads(station)
        _build_haptics(station)
        _build_glove(station)
        if station.pads is not None or station.glove is not None:
            acq = Acquisition(
                clock,
                station.pads,
                station.glove,
                pad_rate_hz=config["pads"]["rate_hz"],
                buffer_s=config["acquisition"]["buffer_s"],
                on_fault=station._on_fault,
            )
            station.acquisition = acq
            station.on_close("acquisition", acq.stop)
        _build_ui(station)
    except HardwareError as exc:
        _show_error(station, exc)
        station.close()
        raise
    except BaseException:
        station.close()
        raise
    return station


def _show_error(station: Station, exc: HardwareError) -> None:
    """Leave ``exc``'s error screen on the LCD, backlight on (best effort): a technician
    reads the code there while the service restarts."""
    display = station.display
    if display is None or exc.part is None or exc.code is None:
        return
    try:
        frame = Screens(station.config["lcd"]["size"]).error(PARTS[exc.part].screen, exc.code)
        display.show(frame)
    except (OSError, RuntimeError, ValueError) as show_exc:
        log.warning("could not show %s on the LCD: %s", exc.code, show_exc)
    display.close(backlight=True)


def _build_pads(station: Station) -> None:
    cfg = station.config["pads"]
    if not cfg["fitted"]:
        return
    bus = station.buses["station"]
    pga_v = ads1115_range_v(cfg["supply_v"])
    adcs = [
        ADS1115(bus, a, station.clock, pga_v, cfg["data_rate_sps"]) for a in cfg["adc_addresses"]
    ]
    layout, ref = pad_layout(cfg)
    pads = ForcePads(
        adcs, layout, divider_ohm=cfg["divider_ohm"], supply_v=cfg["supply_v"], supply_ref=ref
    )
    station.on_close("force pads", pads.close)
    # pads.init(), one chip at a time so that an error names the chip.
    for adc, address in zip(adcs, cfg["adc_addresses"], strict=True):
        hint = (
            "Check the ADC board's power and cable, its ADDR pin (GND 0x48, VDD 0x49, "
            f"SDA 0x4A, SCL 0x4B) and pads.adc_addresses; {_i2cdetect(station, 'station')}."
        )
        with starting("pads", "ADS1115", bus, address, hint):
            adc.init()
    station.uncalibrated += [f"pad{p}" for p in pads.load_calibrations(station.calibrations)]
    station.pads = pads


def pad_layout(cfg: dict[str, Any]) -> tuple[list[PadChannel], SupplyReference | None]:
    """Which ADS1115 input each pad is on, and the supply reference input if fitted (the
    last chip's AIN3, which then carries no pad)."""
    n_adcs = len(cfg["adc_addresses"])
    layout = default_layout(n_adcs, cfg["pads_per_adc"])
    if not cfg["supply_ref"]:
        return layout, None
    layout = [c for c in layout if not (c.adc == n_adcs - 1 and c.ain == 3)]
    return layout, SupplyReference(n_adcs - 1, 3, 0.5)


def _mux(station: Station, part: str, label: str, bus: Any, address: int, hint: str) -> TCA9548A:
    """A started TCA9548A for ``part``, closed with the station. Locked: motors-off and the
    acquisition come from several threads, and a channel select and the access after it
    must not interleave between them."""
    mux = TCA9548A(bus, address, lock=threading.RLock())
    station.on_close(label, mux.close)
    with starting(part, f"TCA9548A {label}", bus, address, hint):
        mux.init()
    return mux


def _build_haptics(station: Station) -> None:
    cfg = station.config["haptics"]
    if not cfg["fitted"]:
        return
    drv2605l = cfg["driver"] == "drv2605l"
    motors: list[Any]
    if drv2605l:
        motors = _drv2605ls(station)
    else:
        motors = [PwmMotor(pin, station.pin_factory) for pin in cfg["pwm_pins"]]
    caps = VibrationCaps.of(station.config["safety"])
    haptics = Haptics(motors, station.clock, caps, actuator=cfg["actuator"], ledger=station.ledger)
    station.on_close("haptics", haptics.close)
    if drv2605l:
        _init_drv2605ls(station, motors, haptics.actuator)
    else:
        haptics.init()
    station.uncalibrated += [f"motor{m}" for m in haptics.load_calibrations(station.calibrations)]
    station.haptics = haptics


def _drv2605ls(station: Station) -> list[Any]:
    """A DRV2605L per configured channel of the haptic mux (started here)."""
    cfg = station.config["haptics"]
    hint = (
        "Check the haptic board's power and cable and haptics.mux_address (A0-A2 pins: "
        f"0x70-0x77); {_i2cdetect(station, 'station')}."
    )
    mux = _mux(station, "motors", "haptic mux", station.buses["station"], cfg["mux_address"], hint)
    return [DRV2605L(mux.channel(ch), DRV2605L_ADDRESS, station.clock) for ch in cfg["channels"]]


def _init_drv2605ls(station: Station, motors: list[Any], actuator: str) -> None:
    """haptics.init(), one driver at a time so that an error names the motor's channel."""
    cfg = station.config["haptics"]
    bus, m = station.buses["station"], cfg["mux_address"]
    for n, (motor, ch) in enumerate(zip(motors, cfg["channels"], strict=True)):
        hint = (
            f"Check motor {n}'s DRV2605L board: its cable to mux channel {ch} and its "
            "power; haptics.channels must list only fitted channels."
        )
        with starting("motors", "DRV2605L", bus, DRV2605L_ADDRESS, hint, behind=(m, ch)):
            motor.init(actuator=actuator)


def _build_glove(station: Station) -> None:
    cfg = station.config["glove"]
    if not cfg["fitted"]:
        return
    bus, m = station.buses["glove"], cfg["mux_address"]
    hint = (
        "Check that the glove is plugged in (connector and cable) and glove.mux_address; "
        f"{_i2cdetect(station, 'glove')}."
    )
    mux = _mux(station, "glove", "glove mux", bus, m, hint)
    imus = {seg: LSM6DSOX(mux.channel(ch), address, station.clock) for seg, ch, address in WIRING}
    glove = Glove(imus, station.clock, odr_hz=cfg["odr_hz"])
    station.on_close("glove", glove.close)
    # glove.init(), one IMU at a time so that an error names the IMU.
    for seg, ch, address in WIRING:
        hint = f"Check the {seg} IMU's cable inside the glove (mux channel {ch})."
        with starting("glove", f"LSM6DSOX {seg} IMU", bus, address, hint, behind=(m, ch)):
            glove.reinit(seg)
    glove.load_calibration(station.calibrations)
    station.glove = glove


def _build_display(station: Station) -> None:
    config, clock = station.config, station.clock
    if not config["lcd"]["fitted"]:
        return
    cols, rows = (int(n) for n in config["lcd"]["size"].split("x"))
    bus, address = station.buses["lcd"], config["lcd"]["address"]
    lcd = HD44780(bus, address, cols, rows, clock)
    display = Display(lcd, clock, resync_s=config["lcd"]["resync_s"])
    station.on_close("display", display.close)
    hint = (
        "Check the LCD's cable and power and lcd.address (0x27 for a PCF8574 backpack, 0x3F "
        f"for a PCF8574A); {_i2cdetect(station, 'lcd')}."
    )
    with starting("lcd", "PCF8574 LCD backpack", bus, address, hint):
        display.resync()  # initialises the controller; nothing to show yet
    station.display = display


def _i2cdetect(station: Station, role: str) -> str:
    return f"'i2cdetect -y {station.config['buses'][f'{role}_bus']}' lists what answers"


def _build_ui(station: Station) -> None:
    config, clock = station.config, station.clock
    b = config["buttons"]
    buttons = Buttons(
        {k: b[k] for k in KEYS},
        clock,
        pin_factory=station.pin_factory,
        bounce_s=b["bounce_ms"] / 1000.0,
        hold_s=b["hold_s"],
    )
    station.on_close("buttons", buttons.close)
    station.buttons = buttons
    buzzer = None
    if config["buzzer"]["fitted"]:
        from gpiozero import TonalBuzzer

        buzzer = TonalBuzzer(config["buzzer"]["pin"], pin_factory=station.pin_factory)
        station.on_close("buzzer", buzzer.close)
    station.cues = Cues(buzzer, clock, enabled=config["buzzer"]["enabled"])


def n_motors(config: Config) -> int:
    h = config["haptics"]
    return len(h["channels"] if h["driver"] == "drv2605l" else h["pwm_pins"]) or 1
