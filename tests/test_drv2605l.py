"""The DRV2605L driver against the simulated chip: byte-exact sequences and injected faults."""

from __future__ import annotations

import errno

import pytest

from drivers.bus import DeviceNotFound
from drivers.drv2605l import DRV2605L, CalibrationResult
from drivers.sim.bus import Segment, SimI2CBus
from drivers.sim.chip import SimChip
from drivers.sim.clock import SimClock
from drivers.sim.drv2605l import AUTO_CAL_TIME_S, CAL_RESULTS, EFFECTS, SimDRV2605L

ADDR = 0x5A


@pytest.fixture
def chip(clock: SimClock, bus: SimI2CBus) -> SimDRV2605L:
    sim = SimDRV2605L(clock)
    bus.attach(ADDR, sim)
    return sim


@pytest.fixture
def drv(clock: SimClock, bus: SimI2CBus, chip: SimDRV2605L) -> DRV2605L:
    d = DRV2605L(bus, clock=clock)
    d.init()
    bus.reset_stats()
    return d


def W(*data: int) -> tuple[Segment, ...]:
    return (Segment(ADDR, "W", bytes(data)),)


def R(reg: int, *data: int) -> tuple[Segment, ...]:
    return (Segment(ADDR, "W", bytes([reg])), Segment(ADDR, "R", bytes(data)))


def wire(bus: SimI2CBus) -> list[tuple[Segment, ...]]:
    return [t.segments for t in bus.log]


def test_drv2605l_init_erm_byte_sequence(clock: SimClock, bus: SimI2CBus, chip) -> None:
    drv = DRV2605L(bus, clock=clock)
    drv.init()
    assert wire(bus) == [
        R(0x00, 0xE0),  # STATUS: DEVICE_ID 7
        W(0x01, 0x00),  # MODE: leave standby, internal trigger
        R(0x01, 0x00),  # MODE read back: the chip takes writes
        W(0x02, 0x00),  # RTP_INPUT 0
        W(0x04, 0x00),  # WAV_FRM_SEQ1: empty sequence
        W(0x0D, 0, 0, 0, 0),  # ODT, SPT, SNT, BRT
        W(0x1A, 0x36),  # FEEDBACK_CTRL: ERM, brake 4x, loop gain medium, BEMF gain 2
        W(0x1D, 0xA0),  # CONTROL3: ERM open loop, signed RTP
        W(0x03, 0x01),  # LIBRARY_SEL: TS2200 A
    ]
    assert drv.device_id == 7
    assert not chip.standby and chip.mode == 0


def test_drv2605l_init_lra_with_voltages(clock: SimClock, bus: SimI2CBus, chip) -> None:
    drv = DRV2605L(bus, clock=clock)
    drv.init("lra", rated_voltage_v=2.0, od_clamp_v=2.5)
    # 2.0 V / (20.71 mV x 1.265) = 76.3 -> 76; 2.5 V / 21.64 mV = 115.5 -> 115 (rounded down)
    assert wire(bus)[6:] == [W(0x16, 76), W(0x17, 115), W(0x1A, 0xB6), W(0x1D, 0xA0), W(0x03, 6)]


def test_drv2605l_init_erm_rated_voltage_code(clock: SimClock, bus: SimI2CBus, chip) -> None:
    DRV2605L(bus, clock=clock).init("erm", rated_voltage_v=3.0)
    assert chip.reg(0x16) == 141  # 3.0 V / 21.18 mV = 141.6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"actuator": "piezo"}, "'erm' or 'lra'"),
        ({"rated_voltage_v": 6.0}, "rated_voltage_v must be in"),
        ({"od_clamp_v": 0.0}, "od_clamp_v must be in"),
    ],
)
def test_drv2605l_init_rejects_bad_arguments_before_any_traffic(
    clock: SimClock, bus: SimI2CBus, chip, kwargs: dict, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        DRV2605L(bus, clock=clock).init(**kwargs)
    assert len(bus.log) == 0


def test_drv2605l_init_accepts_drv2605(clock: SimClock, bus: SimI2CBus) -> None:
    bus.attach(ADDR, SimDRV2605L(clock, device_id=3))
    drv = DRV2605L(bus, clock=clock)
    drv.init()
    assert drv.device_id == 3


def test_drv2605l_init_absent_raises_remote_io_error(clock: SimClock, bus: SimI2CBus) -> None:
    with pytest.raises(OSError) as err:
        DRV2605L(bus, clock=clock).init()
    assert err.value.errno == errno.EREMOTEIO


def test_drv2605l_init_wrong_identity_raises_device_not_found(
    clock: SimClock, bus: SimI2CBus
) -> None:
    bus.attach(ADDR, SimDRV2605L(clock, device_id=4))
    drv = DRV2605L(bus, clock=clock)
    with pytest.raises(DeviceNotFound) as err:
        drv.init()
    assert err.value.found == 4 and err.value.address == ADDR and err.value.bus == "station"
    assert "DRV2604" in err.value.hint
    assert drv.device_id == -1
    assert len(bus.log) == 1  # nothing written to an unknown chip


def test_drv2605l_init_chip_ignoring_writes_raises_device_not_found(
    clock: SimClock, bus: SimI2CBus
) -> None:
    bus.attach(ADDR, SimChip())  # answers, reads 0xFF (DEVICE_ID 7), takes no writes
    with pytest.raises(DeviceNotFound) as err:
        DRV2605L(bus, clock=clock).init()
    assert err.value.found == 0xFF and "EN pin" in err.value.hint


def test_drv2605l_init_with_en_low_raises_device_not_found(
    clock: SimClock, bus: SimI2CBus, chip
) -> None:
    chip.enable_pin = False
    with pytest.raises(DeviceNotFound, match="EN pin"):
        DRV2605L(bus, clock=clock).init()


def test_drv2605l_rtp_first_update_writes_value_then_mode(bus: SimI2CBus, drv, chip) -> None:
    drv.set_realtime(1.0)
    drv.set_realtime(0.5)
    assert wire(bus) == [W(0x02, 0x7F), W(0x01, 0x05), W(0x02, 0x40)]
    assert chip.mode == 5 and chip.drive_at(bus.clock.now()) == pytest.approx(64 / 127)


def test_drv2605l_rtp_update_costs_29_bits(bus: SimI2CBus, drv) -> None:
    drv.set_realtime(0.2)
    bus.reset_stats()
    drv.set_realtime(0.3)
    assert bus.stats.bits == 29  # HARDWARE.md §4.1: single register write
    assert bus.stats.wire_s == pytest.approx(72.5e-6)


@pytest.mark.parametrize("amplitude", [-0.01, 1.01, float("nan")])
def test_drv2605l_rtp_rejects_out_of_range(bus: SimI2CBus, drv, amplitude: float) -> None:
    with pytest.raises(ValueError, match=r"0\.0\.\.1\.0"):
        drv.set_realtime(amplitude)
    assert len(bus.log) == 0


def test_drv2605l_stop_byte_sequence_and_motor_off(bus: SimI2CBus, drv, chip) -> None:
    drv.set_realtime(1.0)
    bus.reset_stats()
    drv.stop()
    assert wire(bus) == [W(0x02, 0x00), W(0x01, 0x00), W(0x0C, 0x00)]
    assert chip.mode == 0 and chip.drive_at(bus.clock.now()) == 0.0


def test_drv2605l_stop_attempts_every_write_when_device_gone(bus: SimI2CBus, drv, chip) -> None:
    chip.unplug()
    with pytest.raises(OSError) as err:
        drv.stop()
    assert err.value.errno == errno.EREMOTEIO
    assert [t.error for t in bus.log] == [121, 121, 121]


def test_drv2605l_play_effect_byte_sequence(clock: SimClock, bus: SimI2CBus, drv, chip) -> None:
    drv.play_effect(47)
    assert wire(bus) == [W(0x04, 47, 0x00), W(0x0C, 0x01)]
    assert drv.is_busy()
    drv.wait_done(1.0)
    assert not chip.go
    assert max(level for _, level in chip.history) == 1.0  # buzz 1 - 100 %


def test_drv2605l_play_effect_after_rtp_returns_to_internal_trigger(bus: SimI2CBus, drv) -> None:
    drv.set_realtime(0.5)
    bus.reset_stats()
    drv.play_effect(1)
    assert wire(bus) == [W(0x01, 0x00), W(0x04, 1, 0x00), W(0x0C, 0x01)]


@pytest.mark.parametrize("effect", [0, 124, 1.0, "1"])
def test_drv2605l_play_effect_rejects_unknown_ids(bus: SimI2CBus, drv, effect) -> None:
    with pytest.raises(ValueError, match=r"1\.\.123"):
        drv.play_effect(effect)
    assert len(bus.log) == 0


def test_drv2605l_set_sequence_encodes_effects_and_waits(bus: SimI2CBus, drv) -> None:
    drv.set_sequence([1, ("wait", 100), 47, ("wait", 1270)])
    drv.set_sequence([14] * 8)  # full: no terminator
    assert wire(bus) == [W(0x04, 1, 0x8A, 47, 0xFF, 0x00), W(0x04, *[14] * 8)]


@pytest.mark.parametrize(
    ("steps", "match"),
    [
        ([], "1..8 steps"),
        ([1] * 9, "1..8 steps"),
        ([("wait", 5)], "10..1270"),
        ([("wait", 15)], "steps of 10"),
        ([("wait", 1280)], "10..1270"),
        ([("pause", 10)], r"\('wait', ms\)"),
        ([200], r"1\.\.123"),
    ],
)
def test_drv2605l_set_sequence_rejects_bad_steps(bus: SimI2CBus, drv, steps, match) -> None:
    with pytest.raises(ValueError, match=match):
        drv.set_sequence(steps)
    assert len(bus.log) == 0


def test_drv2605l_go_and_wait_done_follow_the_sequence(clock: SimClock, drv, chip) -> None:
    drv.set_sequence([1, ("wait", 200), 1])
    drv.go()
    t0 = clock.now()
    drv.wait_done(timeout_s=2.0)
    duration = 2 * EFFECTS[1][0] + 0.2
    assert duration <= clock.now() - t0 <= duration + 0.006  # one poll period late at most
    assert not drv.is_busy()


def test_drv2605l_wait_done_times_out_when_go_never_clears(clock: SimClock, drv, chip) -> None:
    chip.inject_go_stuck()
    drv.play_effect(1)
    t0 = clock.now()
    with pytest.raises(TimeoutError) as err:
        drv.wait_done(timeout_s=0.5)
    assert err.value.errno == errno.ETIMEDOUT and "GO still set" in str(err.value)
    assert 0.5 <= clock.now() - t0 <= 0.51


def test_drv2605l_auto_calibrate_returns_results(clock: SimClock, bus: SimI2CBus, chip) -> None:
    drv = DRV2605L(bus, clock=clock)
    drv.init("lra")
    t0 = clock.now()
    result = drv.auto_calibrate()
    comp, bemf, gain = CAL_RESULTS["lra"]
    assert result == CalibrationResult(True, comp, bemf, gain, "lra")
    assert AUTO_CAL_TIME_S[2] <= clock.now() - t0 <= AUTO_CAL_TIME_S[2] + 0.021
    assert chip.mode == 0 and not chip.go


@pytest.mark.parametrize("fault", ["open", "short"])
def test_drv2605l_auto_calibrate_reports_failure(drv, chip, fault: str) -> None:
    chip.inject_actuator_fault(fault)
    result = drv.auto_calibrate()
    assert not result.ok
    assert (result.compensation, result.back_emf) == (0x0C, 0x6C)  # registers untouched


def test_drv2605l_auto_calibrate_eio_while_polling_cancels(
    clock: SimClock, bus: SimI2CBus, drv, chip
) -> None:
    bus.fail_nth(5, errno=errno.EIO)  # MODE, GO, then the third poll of GO fails
    with pytest.raises(OSError) as err:
        drv.auto_calibrate()
    assert err.value.errno == errno.EIO
    assert wire(bus)[-2:] == [W(0x0C, 0x00), W(0x01, 0x00)]  # cancelled: motor off
    assert not chip.go and chip.mode == 0 and chip.drive_at(clock.now()) == 0.0


def test_drv2605l_auto_calibrate_times_out_and_cancels(clock: SimClock, drv, chip) -> None:
    chip.inject_go_stuck()
    with pytest.raises(OSError) as err:
        drv.auto_calibrate(timeout_s=1.5)
    assert err.value.errno == errno.ETIMEDOUT
    assert not chip.go and chip.drive_at(clock.now()) == 0.0


def test_drv2605l_apply_calibration_writes_stored_values(bus: SimI2CBus, drv, chip) -> None:
    drv.apply_calibration(CalibrationResult(True, 0x10, 0x90, 1))
    assert wire(bus) == [W(0x18, 0x10, 0x90), W(0x1A, 0x35)]


@pytest.mark.parametrize(("fault", "ok"), [(None, True), ("open", False), ("short", False)])
def test_drv2605l_diagnose_reports_actuator(drv, chip, fault, ok: bool) -> None:
    chip.inject_actuator_fault(fault)
    assert drv.diagnose() is ok
    assert chip.mode == 0


def test_drv2605l_diagnose_times_out_when_stuck(drv, chip) -> None:
    chip.inject_go_stuck()  # TI E2E 1234373: diagnostics of an open-loop LRA
    with pytest.raises(TimeoutError):
        drv.diagnose(timeout_s=0.3)
    assert not chip.go


def test_drv2605l_faults_read_status_flags(clock: SimClock, bus: SimI2CBus, drv, chip) -> None:
    assert drv.faults() == (False, False, False)
    chip.inject_over_temp()
    chip.inject_over_current()
    assert drv.faults() == (True, True, False)
    chip.inject_actuator_fault("open")
    bus.writeto_mem(ADDR, 0x01, b"\x06")  # a diagnostic run by someone else
    bus.writeto_mem(ADDR, 0x0C, b"\x01")
    clock.sleep(0.5)
    assert drv.faults()[2] is True


def test_drv2605l_standby_then_rtp_leaves_standby(bus: SimI2CBus, drv, chip) -> None:
    drv.standby()
    assert chip.standby
    drv.set_realtime(0.25)
    assert wire(bus) == [W(0x01, 0x40), W(0x02, 32), W(0x01, 0x05)]
    assert not chip.standby


def test_drv2605l_close_turns_motor_off_and_standby(bus: SimI2CBus, drv, chip) -> None:
    drv.set_realtime(1.0)
    bus.reset_stats()
    drv.close()
    assert wire(bus) == [W(0x02, 0), W(0x01, 0), W(0x0C, 0), W(0x01, 0x40)]
    assert chip.standby and drv.close_error is None
    drv.close()  # safe twice
    with pytest.raises(ValueError, match="closed"):
        drv.set_realtime(0.5)


def test_drv2605l_close_never_raises_and_retries(bus: SimI2CBus, drv, chip) -> None:
    drv.set_realtime(1.0)
    chip.unplug()
    drv.close()
    assert drv.close_error is not None and drv.close_error.errno == errno.EREMOTEIO
    assert chip.drive_at(bus.clock.now()) == 1.0  # the link is down: the motor still runs
    chip.plug()
    drv.close()
    assert drv.close_error is None and chip.drive_at(bus.clock.now()) == 0.0


def test_drv2605l_device_drops_off_and_comes_back(bus: SimI2CBus, drv, chip) -> None:
    drv.set_realtime(0.5)
    chip.unplug()
    with pytest.raises(OSError) as err:
        drv.set_realtime(0.6)
    assert err.value.errno == errno.EREMOTEIO
    chip.plug()
    bus.reset_stats()
    drv.set_realtime(0.7)  # MODE is rewritten: the chip may have lost it
    assert wire(bus) == [W(0x02, 89), W(0x01, 0x05)]
    assert chip.drive_at(bus.clock.now()) == pytest.approx(89 / 127)


def test_drv2605l_power_cycled_device_is_reinitialised(bus: SimI2CBus, drv, chip) -> None:
    drv.init("lra")
    chip.unplug()
    chip.power_cycle()
    with pytest.raises(OSError):
        drv.play_effect(1)
    chip.plug()
    assert chip.standby and chip.reg(0x03) == 0x01  # back at reset values
    drv.init("lra")
    assert chip.reg(0x03) == 6 and chip.reg(0x1A) == 0xB6 and not chip.standby


def test_drv2605l_reset_waits_for_dev_reset_to_clear(clock: SimClock, bus: SimI2CBus, drv, chip):
    drv.set_realtime(1.0)
    drv.reset()
    assert chip.reg(0x01) == 0x40 and chip.drive_at(clock.now()) == 0.0


def test_drv2605l_constructor_touches_no_hardware(clock: SimClock, bus: SimI2CBus) -> None:
    drv = DRV2605L(bus, clock=clock)
    assert len(bus.log) == 0 and "station" in repr(drv)
