"""A device that does not answer is one named condition, whatever errno the controller uses."""

from __future__ import annotations

import errno

import pytest

from drivers.ads1115 import ADS1115
from drivers.bus import EIO, ENXIO, EREMOTEIO, NO_ANSWER, DeviceNotFound, no_answer
from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from drivers.tca9548a import TCA9548A


def test_bus_errnos_match_the_platforms() -> None:
    assert (EIO, ENXIO, EREMOTEIO) == (errno.EIO, errno.ENXIO, errno.EREMOTEIO) == (5, 6, 121)
    assert set(NO_ANSWER) == {5, 6, 121}


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.EREMOTEIO, "Remote I/O error"),  # the Pi's i2c-bcm2835
        OSError(errno.ENXIO, "No such device or address"),  # Linux i2c-gpio
        OSError(errno.EIO),  # MicroPython machine.I2C on rp2: errno only in args
        OSError(121),
    ],
)
def test_bus_no_answer_for_every_controllers_nack(exc: OSError) -> None:
    assert no_answer(exc)


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.ETIMEDOUT, "stuck transfer"),
        OSError(errno.EOPNOTSUPP, "read not last"),
        OSError("no errno at all"),
        DeviceNotFound("ADS1115", "station", 0x48, 0x8583, 0xFFFF, "check ADDR"),
        ValueError(121),
    ],
)
def test_bus_no_answer_is_false_for_other_errors(exc: BaseException) -> None:
    assert not no_answer(exc)


@pytest.mark.parametrize("nack_errno", [errno.EREMOTEIO, errno.EIO])
def test_bus_missing_adc_is_no_answer_on_the_pi_and_on_rp2(nack_errno: int) -> None:
    bus = SimI2CBus(SimClock(), 400_000, "station", nack_errno=nack_errno)
    with pytest.raises(OSError) as exc:
        ADS1115(bus, 0x48).init()
    assert exc.value.errno == nack_errno
    assert no_answer(exc.value)


@pytest.mark.parametrize("nack_errno", [errno.EREMOTEIO, errno.EIO])
def test_bus_missing_mux_is_no_answer_on_the_pi_and_on_rp2(nack_errno: int) -> None:
    bus = SimI2CBus(SimClock(), 400_000, "station", nack_errno=nack_errno)
    with pytest.raises(OSError) as exc:
        TCA9548A(bus).init()
    assert no_answer(exc.value)
