"""What each driver does in the replay check, written once for CPython and MicroPython.

Each scenario takes ``(bus, clock, world)`` and returns ``[(label, value...), ...]``: what
the driver decoded or raised. On CPython ``bus`` and ``clock`` are the simulated ones,
recorded (``mpy_record.py``), and ``world.stage(name)`` changes the simulated chips between
steps (inputs, unplugging, injected NACKs); on MicroPython they replay the recording
(``mpy_replay.py``) and stages do nothing. It runs in both interpreters (MicroPython 1.27
has f-strings; the drivers themselves avoid them for smaller ports).
"""

from drivers.ads1115 import ADS1115
from drivers.bus import DeviceNotFound, no_answer
from drivers.drv2605l import DRV2605L
from drivers.hd44780 import HD44780
from drivers.lsm6dsox import LSM6DSOX, DeviceReset
from drivers.tca9548a import TCA9548A


def failure(call, message=False):
    """What ``call()`` returned or raised, as a value both interpreters can compare.

    A bus ``OSError`` is compared by errno only (machine.I2C gives no message); pass
    ``message`` for errors the driver itself raises (timeouts, a mux that did not hold).
    """
    try:
        return ("returned", call())
    except OSError as exc:
        text = exc.args[1] if message and len(exc.args) > 1 else None
        return ("OSError", exc.args[0], no_answer(exc), text)
    except DeviceNotFound as exc:
        return ("DeviceNotFound", exc.chip, exc.address, exc.expected, exc.found, str(exc))
    except DeviceReset as exc:
        return ("DeviceReset", str(exc))
    except (ValueError, RuntimeError) as exc:
        return (type(exc).__name__, str(exc))


def closed(error):
    """A ``close_error`` as a value: None, or its errno and whether nothing answered."""
    return None if error is None else (error.args[0], no_answer(error))


def ads1115(bus, clock, world):
    out = []
    adc = ADS1115(bus, 0x48, clock, pga_v=4.096, data_rate_sps=475)
    out.append(("repr", repr(adc)))
    adc.init()
    world.stage("inputs")  # AIN0 1.5 V, AIN1 -0.1 V, AIN2 4.2 V (over range), AIN3 125 uV
    for channel in range(4):
        counts = adc.read_single(channel)
        out.append((f"AIN{channel}", counts, adc.counts_to_volts(counts)))
    world.stage("NACK 121 once")
    out.append(("missing, errno 121", failure(lambda: adc.read_single(0))))
    out.append(("back", adc.read_single(0)))
    world.stage("NACK 5 once")
    out.append(("missing, errno 5", failure(lambda: adc.read_single(2))))
    world.stage("stuck")
    out.append(("stuck", failure(lambda: adc.read_single(3, 0.01), True)))
    world.stage("unstuck")
    out.append(("recovered", adc.read_single(3)))
    adc.enable_ready_pin()
    adc.start_continuous(1)
    out.append(("continuous AIN1", adc.read_latest(), adc.read_latest()))
    adc.close()
    out.append(("close", closed(adc.close_error)))
    out.append(("another part at 0x49", failure(ADS1115(bus, 0x49, clock).init)))
    out.append(("bad channel", failure(lambda: adc.read_single(4))))
    return out


def drv2605l(bus, clock, world):
    out = []
    drv = DRV2605L(bus, 0x5A, clock)
    drv.init("erm", rated_voltage_v=2.0, od_clamp_v=3.0)
    out.append(("identity", drv.device_id, repr(drv)))
    drv.set_realtime(0.5)
    drv.set_realtime(1.0)
    drv.stop()
    drv.play_effect(47)
    out.append(("busy after GO", drv.is_busy()))
    drv.wait_done(2.0)
    drv.set_sequence([1, ("wait", 100), 47])
    drv.go()
    drv.wait_done(2.0)
    calibration = drv.auto_calibrate()
    out.append(("calibration", calibration.as_tuple()))
    drv.apply_calibration(calibration)
    out.append(("diagnose", drv.diagnose()))
    world.stage("over temperature")
    out.append(("faults", drv.faults()))
    world.stage("GO stuck")
    out.append(("GO stuck", failure(lambda: drv.diagnose(0.05), True)))
    world.stage("GO free")
    drv.reset()
    drv.init("lra", rated_voltage_v=1.8)
    world.stage("second write NACKs")
    out.append(("stop with a NACK", failure(drv.stop)))
    world.stage("unplugged")
    drv.close()
    out.append(("close unplugged", closed(drv.close_error)))
    world.stage("plugged")
    drv.close()
    out.append(("close again", closed(drv.close_error)))
    out.append(("after close", failure(lambda: drv.set_realtime(0.2))))
    out.append(("amplitude range", failure(lambda: drv.set_realtime(1.5))))
    out.append(("a DRV2604 at 0x5B", failure(DRV2605L(bus, 0x5B, clock).init)))
    return out


def lsm6dsox(bus, clock, world):
    out = []
    imu = LSM6DSOX(bus, 0x6A, clock)
    world.stage("moving")  # accel (0.12, -0.5, 0.98) g, gyro (-12.5, 3.0, 250.0) dps, 31.5 C
    imu.init(odr_hz=104, accel_fs_g=4, gyro_fs_dps=500, fifo=True)
    clock.sleep(0.05)
    batch = imu.read_fifo()
    out.append(("fifo", batch.accel_g, batch.gyro_dps, batch.words, batch.unpaired))
    out.append(("fifo state", batch.other_tags, batch.overrun, batch.fifo_level))
    out.append(("output registers", imu.read_accel_gyro()))
    out.append(("temperature", imu.temperature_c()))
    result = imu.self_test()
    out.append(("self-test", result.passed, result.accel_delta_mg, result.gyro_delta_dps))
    capture = imu.capture_accel(32, odr_hz=3333, accel_fs_g=8)  # a motor calibration's burst
    out.append(("capture", len(capture), capture[0], capture[-1]))
    out.append(("after capture", failure(imu.read_fifo)))
    imu.init(odr_hz=104, accel_fs_g=4, gyro_fs_dps=500, fifo=True)
    clock.sleep(3.0)  # more than 512 words: the FIFO overruns
    batch = imu.read_fifo(max_words=300)
    out.append(("overrun", batch.overrun, batch.words, len(batch.accel_g), batch.unpaired))
    out.append(("overrun data", batch.accel_g[-1], batch.gyro_dps[-1]))
    out.append(("rest", imu.read_fifo().words))
    world.stage("unplugged")
    out.append(("unplugged", failure(imu.read_fifo)))
    world.stage("power cycled")
    out.append(("after power cycle", failure(imu.read_fifo)))
    imu.init(odr_hz=208, accel_fs_g=16, gyro_fs_dps=2000)
    clock.sleep(0.02)
    batch = imu.read_fifo()
    out.append(("fifo at 208 Hz", batch.accel_g, batch.gyro_dps))
    imu.close()
    out.append(("close", closed(imu.close_error)))
    out.append(("closed", failure(imu.read_fifo)))
    out.append(("an LSM6DS33 at 0x6B", failure(LSM6DSOX(bus, 0x6B, clock).init)))
    return out


def hd44780(bus, clock, world):
    out = []
    lcd = HD44780(bus, 0x27, 20, 4, clock)
    lcd.init()
    lcd.write_at(0, 0, b"Grip  12.5 N")
    lcd.create_char(0, [0x00, 0x0A, 0x1F, 0x1F, 0x0E, 0x04, 0x00, 0x00])
    lcd.create_char(1, [0x1F, 0x11], first_row=6)
    lcd.write_at(19, 3, b"\x00")
    lcd.set_backlight(False)
    lcd.display_on(False)
    lcd.display_on(True)
    lcd.set_backlight(True)
    lcd.resync()
    lcd.clear()
    world.stage("NACK 5 once")
    out.append(("missing, errno 5", failure(lambda: lcd.write_at(0, 1, b"Hi"))))
    lcd.resync()
    lcd.write_at(0, 1, b"Hi")
    out.append(("past the row end", failure(lambda: lcd.write_at(18, 0, b"abc"))))
    out.append(("cost", lcd.bytes_per_char, lcd.run_overhead_bytes))
    classic = HD44780(bus, 0x27, 16, 2, clock, writes_per_nibble=3, pins=(0, 1, 2, 3, 4, 5, 6, 7))
    classic.write_at(0, 1, b"3x")
    lcd.close()
    out.append(("closed", failure(lcd.clear)))
    return out


def tca9548a(bus, clock, world):
    out = []
    mux = TCA9548A(bus, 0x70)
    mux.init()
    mux.select(3)
    mux.select(3)  # cached: no bus traffic
    out.append(("selected", mux.selected(), repr(mux)))
    ch2 = mux.channel(2)
    motor = DRV2605L(ch2, 0x5A, clock)
    motor.init()
    imu = LSM6DSOX(mux.channel(5), 0x6A, clock)
    imu.init(fifo=False)
    clock.sleep(0.02)
    out.append(("IMU on channel 5", imu.read_accel_gyro()))
    out.append(("motor on channel 2", motor.is_busy(), motor.device_id))
    out.append(("scan channel 2", ch2.scan()))
    both = mux.channels([2, 4])
    both.writeto_mem(0x5A, 0x02, b"\x00")  # RTP 0 to the motors on channels 2 and 4
    out.append(
        ("read through two channels", failure(lambda: both.readfrom_into(0x5A, bytearray(1))))
    )
    world.stage("motor on channel 2 unplugged")
    out.append(("motor missing", failure(motor.is_busy)))
    world.stage("motor on channel 2 plugged")
    out.append(("motor back", motor.is_busy()))
    frozen = TCA9548A(bus, 0x71)  # a part at 0x71 that reads 0x00 whatever is written
    frozen.init()
    out.append(("selection not held", failure(lambda: frozen.select(1))))
    out.append(
        ("through a channel", failure(lambda: frozen.channel(1).writeto(0x5A, b"\x02"), True))
    )
    out.append(("bad channel", failure(lambda: mux.channel(8))))
    mux.close()
    out.append(("close", closed(mux.close_error), repr(mux)))
    out.append(("another part at 0x72", failure(TCA9548A(bus, 0x72).init)))
    return out


#: The scenarios, in replay order.
ALL = ("ads1115", "drv2605l", "lsm6dsox", "hd44780", "tca9548a")
