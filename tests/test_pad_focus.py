"""The focused burst of the acquisition (rate of force development, CLINICAL.md §3.3): one pad
alone on its ADS1115 at 860 SPS, the chip's other pads paused without going stale, and the
rotation back on every exit path. The driver's data-rate change, byte-exact first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import SimCalibrations
from test_ads1115 import ADDR, W, adc, chip, wire  # noqa: F401  (fixtures)
from test_session_e2e import module_app

from drivers.ads1115 import ADS1115
from drivers.sim.bus import SimI2CBus
from sensors.acquisition import Acquisition
from sensors.faults import PadFault
from sensors.pad_sampler import FOCUS_MARGIN_S, FOCUS_RATE_SPS
from station.app import App

#: The focused pad's rate: one conversion per tick of 1.1/860 s + the bus margin.
FOCUS_HZ = 1.0 / (1.1 / FOCUS_RATE_SPS + FOCUS_MARGIN_S)


# -- the driver -----------------------------------------------------------------------------


def test_ads1115_set_data_rate_applies_from_the_next_start_without_bus_traffic(
    bus: SimI2CBus,
    adc: ADS1115,  # noqa: F811
) -> None:
    adc.set_data_rate(860)
    assert wire(bus) == []  # nothing written until the next start
    adc.start_single(0)
    assert wire(bus) == [W(0x01, 0xC3, 0xE3)]  # DR 111 (860 SPS), the rest as before
    assert adc.conversion_time_s() == pytest.approx(1.1 / 860)
    with pytest.raises(ValueError, match="8, 16, 32, 64, 128, 250, 475, 860"):
        adc.set_data_rate(900)
    assert adc.data_rate_sps == 860


# -- the acquisition on the simulated station -----------------------------------------------


@pytest.fixture(scope="module")
def app(
    tmp_path_factory: pytest.TempPathFactory, sim_calibrations: SimCalibrations
) -> Iterator[App]:
    """One calibrated station (its loop running) for the module; each test leaves it
    running in rotation with the pads unloaded."""
    with module_app(tmp_path_factory, sim_calibrations, "focus") as a:
        yield a


def parts(app: App) -> tuple[Acquisition, Any, Any]:
    """The station's acquisition (started if stopped), its clock and its world."""
    st = app.station
    assert st is not None and st.sim is not None and st.acquisition is not None
    acq = st.acquisition
    if not acq.running:
        acq.start()
    return acq, st.clock, st.sim.world


def rates(acq: Acquisition, seconds: float) -> dict[int, float]:
    """Samples per second of every pad over the last ``seconds``."""
    w = acq.window(seconds)
    return {p: len(pw.t_s) / seconds for p, pw in w.pads.items()}


def dr_code(app: App, index: int) -> int:
    """The DR bits of ADS1115 ``index``'s config register, as the chip holds them."""
    assert app.station is not None and app.station.sim is not None
    return (app.station.sim.chips.adcs[index].config >> 5) & 0x7


def test_pad_focus_samples_the_pad_alone_at_860_sps_then_rotates_again(app: App) -> None:
    acq, clock, world = parts(app)
    world.pads[0].set_force_profile(lambda t: 4.0 + 2.0 * np.sin(20.0 * t))
    before = dict(acq.counters)
    with acq.focus(0) as focus:
        assert focus.paused == (1, 2, 3)  # the other pads on pad 0's ADS1115
        clock.sleep(0.5)
        assert dr_code(app, 0) == 0b111 and dr_code(app, 1) == 0b110  # 860 / 475 SPS
        r = rates(acq, 0.4)
        t, f = acq.window_n(0, 0.4)
    assert r[0] == pytest.approx(FOCUS_HZ, rel=0.01)  # 632 samples/s, not 100
    assert np.max(np.diff(t)) == pytest.approx(1.0 / FOCUS_HZ, rel=0.01)  # none lost
    assert r[1] == r[2] == r[3] == 0  # paused
    for pad in (4, 5, 6, 7):  # the other chip: every 2nd focused tick (3.2 ms)
        assert r[pad] == pytest.approx(FOCUS_HZ / 2 / 4, rel=0.05)
    # the force it read is the pad's (within its calibration), sample by sample
    true = 4.0 + 2.0 * np.sin(20.0 * t)
    assert np.max(np.abs(f - true)) < 0.3 + 0.25 * 6.0
    world.pads[0].set_force(0.0)
    clock.sleep(0.5)
    assert acq.running and acq.sampler is not None and acq.sampler.focus is None
    assert dr_code(app, 0) == 0b110
    assert all(v == pytest.approx(100.0, abs=2.5) for v in rates(acq, 0.4).values())
    after = dict(acq.counters)
    for name in ("overrun_ticks", "late_conversions", "bus_errors"):
        assert after.get(name, 0) == before.get(name, 0), name


def test_pad_focus_paused_pads_are_not_stale_but_a_stopped_loop_is(app: App) -> None:
    acq, clock, world = parts(app)
    world.pads[1].set_force(3.0)
    clock.sleep(0.2)
    with acq.focus(0):
        clock.sleep(1.0)  # ten times the stale limit
        assert acq.latest_n(1) == pytest.approx(3.0, abs=0.3 + 0.25 * 3.0)
        assert acq.latest_n(0) == pytest.approx(0.0, abs=0.3)
    assert acq.latest_n(1) == pytest.approx(3.0, abs=0.3 + 0.25 * 3.0)  # at once after
    clock.sleep(0.05)
    assert acq.latest_n(1) == pytest.approx(3.0, abs=0.3 + 0.25 * 3.0)
    # the same wait with the loop stopped is a stale reading, a fault
    acq.stop()
    clock.sleep(1.0)
    with pytest.raises(PadFault, match="ms old"):
        acq.latest_n(1)
    acq.start()
    world.pads[1].set_force(0.0)
    clock.sleep(0.2)
    assert not acq.active_faults


def test_pad_focus_an_exception_in_the_burst_returns_to_the_rotation(app: App) -> None:
    acq, clock, _ = parts(app)
    with pytest.raises(RuntimeError, match="protocol failed"), acq.focus(5):
        clock.sleep(0.1)
        assert dr_code(app, 1) == 0b111 and dr_code(app, 0) == 0b110
        raise RuntimeError("protocol failed")
    assert acq.running and acq.sampler is not None and acq.sampler.focus is None
    clock.sleep(0.5)
    assert dr_code(app, 1) == 0b110
    assert all(v == pytest.approx(100.0, abs=2.5) for v in rates(acq, 0.4).values())
    assert acq.period_s == pytest.approx(0.0025)


def test_pad_focus_refuses_a_pad_not_fitted_and_keeps_the_loop(app: App) -> None:
    acq, clock, _ = parts(app)
    with pytest.raises(ValueError, match="pad 12 is not fitted"), acq.focus(12):
        pass
    # a burst inside a burst is refused too, and the outer one still ends cleanly
    with acq.focus(0):
        with pytest.raises(ValueError, match="already focused"), acq.focus(1):
            pass
        assert acq.sampler is not None and acq.sampler.focus is not None
    assert acq.running and acq.sampler.focus is None
    clock.sleep(0.5)
    assert all(v == pytest.approx(100.0, abs=2.6) for v in rates(acq, 0.4).values())


def test_pad_focus_on_a_stopped_loop_samples_nothing_and_leaves_it_stopped(app: App) -> None:
    acq, clock, _ = parts(app)
    acq.stop()
    with acq.focus(0):
        clock.sleep(0.2)
        assert not acq.running
    assert not acq.running and acq.sampler is not None and acq.sampler.focus is None
    assert acq.pads is not None and acq.pads.adcs[0].data_rate_sps == 475
    acq.start()
