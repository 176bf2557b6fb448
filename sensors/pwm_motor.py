"""A vibration motor on a GPIO PWM output, for stations without DRV2605L drivers."""

from __future__ import annotations

from typing import Any


class PwmMotor:
    """An ERM on a GPIO PWM output through a MOSFET (gpiozero ``PWMOutputDevice``).

    No braking, no effects library, no closed loop: it cannot drive an LRA at resonance
    (HARDWARE.md §7.3). ``pin_factory`` is injected (the composition root chooses it).
    """

    drive_steps = 0  # duty cycle is continuous

    def __init__(self, pin: int, pin_factory: Any = None, frequency_hz: float = 200.0) -> None:
        self.pin = pin
        self.pin_factory = pin_factory
        self.frequency_hz = frequency_hz
        self._device: Any = None

    def __repr__(self) -> str:
        return f"PwmMotor(GPIO{self.pin}, {self.frequency_hz:g} Hz)"

    def init(self, actuator: str = "erm") -> None:
        if actuator != "erm":
            raise ValueError("a PWM motor output can drive an ERM only (no LRA resonance loop)")
        from gpiozero import PWMOutputDevice

        if self._device is None:
            self._device = PWMOutputDevice(
                self.pin, frequency=self.frequency_hz, pin_factory=self.pin_factory
            )
        self._device.value = 0.0

    def set_realtime(self, amplitude: float) -> None:
        if not 0.0 <= amplitude <= 1.0:
            raise ValueError(f"amplitude must be in 0.0..1.0, got {amplitude!r}")
        if self._device is None:
            raise RuntimeError(f"{self!r} not initialised: call init()")
        self._device.value = amplitude

    def stop(self) -> None:
        if self._device is not None:
            self._device.value = 0.0

    def close(self) -> None:
        if self._device is not None:
            self._device.value = 0.0
            self._device.close()
            self._device = None
