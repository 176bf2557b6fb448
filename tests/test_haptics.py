"""Haptics against the simulated motors: calibrated levels arrive within 1 dB, caps hold
whatever the command, plan or calibration (property test), dose, motors off on every path."""

from __future__ import annotations

import errno
import math
from types import SimpleNamespace

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from simrig import Rig, build_rig, calibrate_motors

from drivers.sim.chip import SimChip
from drivers.sim.clock import SimClock
from sensors.calibration import CalibrationError, motor_record
from sensors.dose import DoseTotals
from sensors.faults import MotorFault
from sensors.haptics import Haptics, Stimulus, VibrationCapReached, VibrationCaps
from sensors.pwm_motor import PwmMotor

CAPS = VibrationCaps(max_vibration_g=3.0, daily_vibration_min=30.0)


def haptics_rig(actuator: str = "erm", caps: VibrationCaps = CAPS) -> Rig:
    rig = build_rig(seed=11, pads=False, glove=False, actuator=actuator, caps=caps)
    calibrate_motors(rig, [0, 1])
    return rig


def play_and_measure(rig: Rig, motor: int, stimulus: Stimulus, at_s: float) -> tuple:
    """Play ``stimulus``; the vibration at the site ``at_s`` into it, from the world."""
    assert rig.haptics is not None
    t0 = rig.clock.now()
    seen: list[tuple[float, float]] = []

    def look() -> bool:
        if not seen and rig.clock.now() - t0 >= at_s:
            seen.append(rig.world.motors[motor].vibration_at(rig.clock.now()))
        return False

    result = rig.haptics.play(motor, stimulus, until=look)
    return result, seen[0]


@pytest.mark.parametrize("actuator", ["erm", "lra"])
@pytest.mark.parametrize("level_db", [-12.0, -6.0, 0.0, 2.0])
def test_haptics_commanded_level_arrives_within_1_db(actuator: str, level_db: float) -> None:
    rig = haptics_rig(actuator)
    result, (amp_g, freq_hz) = play_and_measure(rig, 1, Stimulus(0.6, level_db), 0.4)
    wanted_g = 1.0 * 10 ** (level_db / 20)  # reference_g = 1 g at 0 dB
    assert abs(20 * math.log10(result.amplitude_g / wanted_g)) < 0.3  # RTP steps of 1/127
    assert abs(20 * math.log10(amp_g / wanted_g)) <= 1.0
    assert freq_hz == pytest.approx(result.frequency_hz, rel=0.1)
    assert rig.world.motors[1].vibration_at(rig.clock.now() + 0.3) == (0.0, 0.0)


def test_haptics_erm_gives_a_frequency_or_an_amplitude_not_both() -> None:
    rig = haptics_rig("erm")
    assert rig.haptics is not None
    result, (_, freq_hz) = play_and_measure(rig, 0, Stimulus(0.5, None, frequency_hz=150.0), 0.4)
    assert freq_hz == pytest.approx(150.0, rel=0.05)
    assert result.frequency_hz == pytest.approx(150.0, rel=0.05)
    with pytest.raises(ValueError, match="couples frequency and amplitude"):
        rig.haptics.play(0, Stimulus(0.5, -6.0, frequency_hz=150.0))
    with pytest.raises(ValueError, match="cannot vibrate at 900"):
        rig.haptics.play(0, Stimulus(0.5, None, frequency_hz=900.0))


def test_haptics_lra_runs_at_its_resonance_only() -> None:
    rig = haptics_rig("lra")
    assert rig.haptics is not None
    resonance = rig.world.motors[0].resonance_hz
    result = rig.haptics.play(0, Stimulus(0.2, -6.0, frequency_hz=resonance))
    assert result.frequency_hz == pytest.approx(resonance, rel=0.02)
    with pytest.raises(ValueError, match="LRA at"):
        rig.haptics.play(0, Stimulus(0.2, -6.0, frequency_hz=80.0))


def test_haptics_level_above_the_cap_is_clamped_at_the_site() -> None:
    rig = haptics_rig("erm", VibrationCaps(1.0, 30.0))
    result, (amp_g, _) = play_and_measure(rig, 0, Stimulus(0.6, 20.0), 0.4)
    assert result.capped
    assert amp_g <= 1.0
    assert result.amplitude_g <= 1.0 / 10 ** (1.0 / 20) + 1e-9  # cap less the 1 dB tolerance


def test_haptics_calibration_sweep_stops_below_the_cap() -> None:
    rig = build_rig(seed=11, pads=False, glove=False, caps=VibrationCaps(0.8, 30.0))
    record = calibrate_motors(rig, [0])[0]
    assert max(record.coefficients["amplitude_g"]) < 0.8
    assert rig.drv_chips[0].drive_at(rig.clock.now()) == 0.0


def test_haptics_plan_caps_can_only_lower_the_station_caps() -> None:
    rig = haptics_rig()
    assert rig.haptics is not None
    plan = SimpleNamespace(max_vibration_g=10.0, daily_vibration_min=600.0, max_force_n=5.0)
    assert rig.haptics.set_plan_caps(plan) == CAPS
    lower = rig.haptics.set_plan_caps({"max_vibration_g": 0.5, "daily_vibration_min": 5.0})
    assert lower == VibrationCaps(0.5, 5.0)
    with pytest.raises(ValueError, match="numbers >= 0"):
        rig.haptics.set_plan_caps({"max_vibration_g": math.nan, "daily_vibration_min": 60.0})
    assert rig.haptics.caps == lower


def test_haptics_daily_minutes_shorten_then_refuse() -> None:
    rig = haptics_rig(caps=VibrationCaps(3.0, 2.02 / 60))  # 2.02 s a day
    assert rig.haptics is not None
    rig.haptics.ledger.begin_session()
    assert not rig.haptics.play(0, Stimulus(2.0, -6.0)).shortened
    # 20 ms left, shorter than one playing step: the motor write that starts it takes wire
    # time on the simulated bus, and none of that may be added to the day's dose
    second = rig.haptics.play(0, Stimulus(2.0, -6.0))
    assert second.shortened and 0.0199 <= second.played_s <= 0.02 + 1e-9
    with pytest.raises(VibrationCapReached):
        rig.haptics.play(0, Stimulus(2.0, -6.0))
    assert 2.0199 <= rig.haptics.ledger.vibration_s_today() <= 2.02 + 1e-9


def test_haptics_dose_is_recorded_per_session() -> None:
    rig = haptics_rig()
    assert rig.haptics is not None
    rig.haptics.ledger.begin_session()
    result = rig.haptics.play(0, Stimulus(1.0, 0.0))
    expected = DoseTotals()
    expected.add(result.amplitude_g, result.frequency_hz, 1.0)
    session = rig.haptics.ledger.session
    assert session.vibration_s == pytest.approx(1.0, abs=0.02)
    assert session.a8_ms2 == pytest.approx(expected.a8_ms2, rel=0.02)


def test_haptics_motors_are_off_after_a_bus_error_mid_stimulus() -> None:
    rig = haptics_rig()
    assert rig.haptics is not None
    rig.haptics.motors[2].set_realtime(0.5)  # type: ignore[attr-defined]
    rig.station_bus.fail_nth(4, errno=5, address=0x5A)
    with pytest.raises(MotorFault) as exc:
        rig.haptics.play(0, Stimulus(1.0, 0.0, ramp_s=0.3))
    assert exc.value.motor == 0 and exc.value.errno == 5
    now = rig.clock.now()
    assert all(chip.drive_at(now) == 0.0 for chip in rig.drv_chips)


def test_haptics_running_is_true_until_a_stop_is_known_to_have_landed() -> None:
    """What the watchdog arms itself on: a motor counts as running while driven, and after
    a stop that did not reach it, until a later stop does."""
    rig = haptics_rig()
    haptics = rig.haptics
    assert haptics is not None
    assert not haptics.running()
    during: list[bool] = []
    haptics.play(0, Stimulus(0.2, 0.0), until=lambda: during.append(haptics.running()) or False)
    # asked before the first write (not yet running), then at every step while it runs
    assert len(during) > 2 and not during[0] and all(during[1:]) and not haptics.running()
    haptics.drive_raw(2, 0.4)
    assert haptics.running()
    rig.station_bus.nack(0x5A, times=1)  # the stop of motor 0 does not land
    with pytest.raises(MotorFault):
        haptics.stop_all()
    assert haptics.running()
    assert rig.drv_chips[2].drive_at(rig.clock.now()) == 0.0  # the others were stopped
    haptics.stop_all()  # the bus is back
    assert not haptics.running()


class _AllCall(SimChip):
    """Another part answering the motor mux's address (a PCA9685's ALL_CALL is 0x70): the
    mux's read-back is wired-AND with its 0x00, so no selection reads back as written."""

    def read(self, n: int) -> bytes:
        return bytes(n)


def test_haptics_stop_all_tries_every_motor_when_the_mux_selection_does_not_hold() -> None:
    rig = haptics_rig()
    haptics = rig.haptics
    assert haptics is not None
    for motor in range(4):
        haptics.drive_raw(motor, 0.6)
    intruder = rig.station_bus.attach(0x70, _AllCall())
    rig.station_bus.reset_stats()
    with pytest.raises(MotorFault) as exc:
        haptics.stop_all()
    assert exc.value.motor == 0 and exc.value.errno == errno.EIO
    assert haptics.running()  # no stop is known to have landed: the watchdog stays armed
    # every motor was tried: each selection was written (and read back wrong) once
    selects = [t for t in rig.station_bus.log if t.segments[0].address == 0x70]
    assert {t.segments[0].data for t in selects if t.segments[0].kind == "W"} == {
        bytes([1 << motor]) for motor in range(4)
    }
    rig.station_bus.detach(0x70, intruder)
    haptics.stop_all()  # the bus is clean again
    assert not haptics.running()
    assert all(chip.drive_at(rig.clock.now()) == 0.0 for chip in rig.drv_chips)


def test_haptics_motors_are_off_when_the_session_stops_mid_stimulus() -> None:
    rig = haptics_rig()
    assert rig.haptics is not None

    def stop_button() -> bool:
        if rig.clock.now() > 0.2 + t0:
            raise KeyboardInterrupt
        return False

    t0 = rig.clock.now()
    with pytest.raises(KeyboardInterrupt):
        rig.haptics.play(1, Stimulus(2.0, 0.0), until=stop_button)
    assert rig.drv_chips[1].drive_at(rig.clock.now()) == 0.0
    assert rig.haptics.ledger.vibration_s_today() == pytest.approx(0.2, abs=0.06)


class SessionStopped(Exception):
    """Stands for what ends a session from outside (Stop button, SIGTERM)."""


@pytest.mark.parametrize("stop", [SessionStopped, KeyboardInterrupt])
def test_haptics_a_motor_bus_failing_during_cleanup_does_not_hide_what_stopped_the_play(
    stop: type[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    rig = haptics_rig()
    haptics = rig.haptics
    assert haptics is not None
    t0 = rig.clock.now()

    def stop_button() -> bool:
        if rig.clock.now() > t0 + 0.2:
            rig.station_bus.nack(0x70)  # the motor mux stops answering as the stop comes
            raise stop("stop pressed")
        return False

    with pytest.raises(stop, match="stop pressed") as exc:
        haptics.play(1, Stimulus(2.0, 0.0), until=stop_button)
    assert any("motor" in note and "errno 121" in note for note in exc.value.__notes__)
    faults = [r for r in caplog.records if r.levelname == "ERROR" and "motor_fault" in r.message]
    assert faults and "stop pressed" in faults[0].message
    assert haptics.running()  # no stop landed: the watchdog stays armed
    assert haptics.ledger.vibration_s_today() == pytest.approx(0.2, abs=0.06)
    rig.station_bus.clear_faults()
    haptics.stop_all()
    assert not haptics.running()
    assert all(chip.drive_at(rig.clock.now()) == 0.0 for chip in rig.drv_chips)


def test_haptics_stop_all_ends_a_play_in_progress_that_has_no_until() -> None:
    """Stop and the watchdog call stop_all from elsewhere: a running play() must not turn
    its motor back on at its next step."""
    rig = haptics_rig()
    assert rig.haptics is not None
    t0 = rig.clock.now()
    rig.clock.call_later(0.3, rig.haptics.stop_all, "stop-button")
    result = rig.haptics.play(1, Stimulus(3.0, 0.0))
    assert result.stopped_early
    assert rig.clock.now() - t0 == pytest.approx(0.3, abs=0.06)
    for dt in (0.0, 0.5, 2.0):
        rig.clock.sleep(dt)
        assert rig.drv_chips[1].drive_at(rig.clock.now()) == 0.0
    assert rig.haptics.ledger.vibration_s_today() == pytest.approx(0.3, abs=0.06)


def test_haptics_close_turns_every_motor_off_and_is_idempotent() -> None:
    rig = haptics_rig()
    assert rig.haptics is not None
    for motor in rig.haptics.motors:
        motor.set_realtime(0.7)
    rig.haptics.close()
    rig.haptics.close()
    assert all(chip.drive_at(rig.clock.now()) == 0.0 for chip in rig.drv_chips)
    assert all(chip.standby for chip in rig.drv_chips)
    with pytest.raises(RuntimeError, match="closed"):
        rig.haptics.play(0, Stimulus(0.1))


def test_haptics_uncalibrated_motor_does_not_vibrate() -> None:
    rig = build_rig(seed=11, pads=False, glove=False)
    assert rig.haptics is not None
    with pytest.raises(CalibrationError, match="motor 3 is not calibrated"):
        rig.haptics.play(3, Stimulus(0.5, 0.0))
    assert rig.drv_chips[3].history[-1][1] == 0.0


def test_haptics_pwm_fallback_has_the_same_interface() -> None:
    factory = MockFactory(pin_class=MockPWMPin)
    try:
        motors = [PwmMotor(12, factory), PwmMotor(13, factory)]
        clock = SimClock()
        haptics = Haptics(motors, clock, CAPS)
        haptics.init()
        record = motor_record("motor0", [0.2, 0.6, 1.0], [0.1, 1.0, 2.0], [40, 130, 220])
        haptics.set_calibration(0, record)
        pin = factory.pin(12)
        seen: list[float] = []

        def look() -> bool:
            seen.append(pin.state)
            return False

        haptics.play(0, Stimulus(0.1, 0.0), until=look)
        assert seen[-1] == pytest.approx(0.6, abs=0.01)
        assert pin.state == 0
        motors[1].set_realtime(0.4)
        haptics.close()
        assert factory.pin(13).state == 0
        with pytest.raises(ValueError, match="ERM only"):
            PwmMotor(18, factory).init(actuator="lra")
    finally:
        factory.reset()


# -- the cap property ----------------------------------------------------------------------


class RecordingMotor:
    """A motor port that records every drive it is given (DRV2605L RTP quantisation)."""

    drive_steps = 127

    def __init__(self) -> None:
        self.drives: list[float] = [0.0]

    def set_realtime(self, amplitude: float) -> None:
        assert 0.0 <= amplitude <= 1.0
        self.drives.append(amplitude)

    def stop(self) -> None:
        self.drives.append(0.0)

    def close(self) -> None:
        self.drives.append(0.0)


tables = st.lists(
    st.tuples(st.floats(0.01, 1.0), st.floats(0.001, 8.0), st.floats(1.0, 300.0)),
    min_size=1,
    max_size=8,
)
commands = st.lists(
    st.tuples(st.floats(-60.0, 60.0), st.floats(0.01, 0.3), st.floats(0.0, 0.5), st.booleans()),
    min_size=1,
    max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    station_g=st.floats(0.1, 10.0),
    station_min=st.floats(0.01, 120.0),
    plan_g=st.floats(0.0, 50.0) | st.just(math.nan),
    plan_min=st.floats(0.0, 600.0),
    table=tables,
    reference_g=st.floats(0.01, 5.0),
    tolerance_db=st.floats(0.0, 3.0),
    cmds=commands,
)
def test_haptics_no_command_plan_or_calibration_exceeds_the_caps(
    station_g: float,
    station_min: float,
    plan_g: float,
    plan_min: float,
    table: list[tuple[float, float, float]],
    reference_g: float,
    tolerance_db: float,
    cmds: list[tuple[float, float, float, bool]],
) -> None:
    try:
        d, a, f = zip(*table, strict=True)
        record = motor_record("motor0", d, a, f, reference_g, "erm", tolerance_db)
    except CalibrationError:
        return  # a calibration that cannot be inverted is refused, so nothing plays
    motor = RecordingMotor()
    haptics = Haptics([motor], SimClock(), VibrationCaps(station_g, station_min))
    haptics.set_calibration(0, record)
    try:
        haptics.set_plan_caps(SimpleNamespace(max_vibration_g=plan_g, daily_vibration_min=plan_min))
    except ValueError:
        assert math.isnan(plan_g)  # refused: the station's caps stay in force
    caps = haptics.caps
    curve = haptics.curves[0]
    for level_db, duration, ramp_frac, by_frequency in cmds:
        stimulus = Stimulus(
            duration,
            None if by_frequency else level_db,
            f[0] if by_frequency else None,
            ramp_frac * duration,
        )
        try:
            haptics.play(0, stimulus)
        except (VibrationCapReached, ValueError):
            pass
    limit = min(station_g, caps.max_vibration_g) / 10 ** (tolerance_db / 20)
    for drive in motor.drives:
        assert curve.g_for_drive(drive) <= limit + 1e-9
        assert curve.g_for_drive(drive) <= station_g
    assert motor.drives[-1] == 0.0
    assert haptics.ledger.vibration_s_today() <= caps.daily_vibration_min * 60 + 1e-6
    assert caps.daily_vibration_min <= station_min
