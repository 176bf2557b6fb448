"""Bus figure: FIFO drains of the six-IMU glove behind its TCA9548A on a 400 kHz bus.

Run from the repository root::

    .venv/bin/python tests/bench/wire_lsm6dsox.py

Six simulated LSM6DSOX (two per mux channel at 0x6A/0x6B, HARDWARE.md section 2) are
drained every 40 ms by the real driver: per channel one mux select, per IMU one
FIFO_STATUS read and one burst of n x 7 bytes. Wire time is what the simulated bus counts
(9 bits a byte, 1 per START/Sr, 1 per STOP; no host overhead). The table compares the bus
load with HARDWARE.md section 4.3 (52 Hz 13.5 %, 104 Hz 23 %, 208 Hz 43 %, 416 Hz 82 %).
"""

from __future__ import annotations

import math

from drivers.lsm6dsox import LSM6DSOX
from drivers.sim.bus import SimI2CBus
from drivers.sim.chip import SimChip
from drivers.sim.clock import SimClock
from drivers.sim.lsm6dsox import MotionFn, SimLSM6DSOX, Vec3

MUX_ADDRESS = 0x71
BUS_HZ = 400_000
PERIOD_S = 0.040
DURATION_S = 10.0
HARDWARE_MD = {52: 13.5, 104: 23.0, 208: 43.0, 416: 82.0}
FINGERS = (("thumb", "index"), ("middle", "ring"), ("little", "back of hand"))


class Mux(SimChip):
    """A TCA9548A stand-in: one control byte, last byte wins, effective after STOP."""

    part = "TCA9548A"

    def __init__(self) -> None:
        super().__init__()
        self.mask = 0
        self._pending: int | None = None
        self.channels: dict[int, dict[int, SimChip]] = {}

    def write(self, data: bytes) -> None:
        if data:
            self._pending = data[-1]

    def read(self, n: int) -> bytes:
        return bytes([self.mask]) * n

    def stop(self) -> None:
        if self._pending is not None:
            self.mask, self._pending = self._pending, None

    def routes(self, address: int) -> list[SimChip]:
        return [
            chips[address]
            for ch, chips in self.channels.items()
            if self.mask & (1 << ch) and address in chips
        ]


def finger(phase: float) -> MotionFn:
    """A finger flexing at 0.5 Hz (gyro about y) with a little tilt, for realistic bytes."""

    def motion(t: float) -> tuple[Vec3, Vec3]:
        return (0.2 * math.sin(t + phase), 0.0, 0.98), (
            0.0,
            90 * math.sin(math.pi * t + phase),
            0.0,
        )

    return motion


def glove(odr_hz: int) -> tuple[SimClock, SimI2CBus, list[tuple[int, LSM6DSOX]]]:
    clock = SimClock()
    bus = SimI2CBus(clock, BUS_HZ, "glove", log_size=64)
    mux = Mux()
    bus.attach(MUX_ADDRESS, mux)
    imus = []
    for ch, _fingers in enumerate(FINGERS):
        mux.channels[ch] = {}
        for i, address in enumerate((0x6A, 0x6B)):
            chip = SimLSM6DSOX(clock, address, seed=ch * 2 + i, accel_noise_g=0.002)
            chip.set_motion_source(finger(ch + i / 2))
            mux.channels[ch][address] = chip
            imus.append((ch, LSM6DSOX(bus, address, clock)))
    for ch, imu in imus:
        bus.writeto(MUX_ADDRESS, bytes([1 << ch]))
        imu.init(odr_hz=odr_hz)
    return clock, bus, imus


def run(odr_hz: int) -> dict[str, float]:
    clock, bus, imus = glove(odr_hz)
    clock.sleep(PERIOD_S)
    bus.reset_stats()
    t0 = clock.now()
    drains = pairs = overruns = 0
    drain_wire: list[float] = []
    next_t = t0
    while clock.now() - t0 < DURATION_S:
        wire0 = bus.stats.wire_s
        selected = -1
        for ch, imu in imus:
            if ch != selected:
                bus.writeto(MUX_ADDRESS, bytes([1 << ch]))
                selected = ch
            batch = imu.read_fifo()
            pairs += len(batch.accel_g)
            overruns += batch.overrun
        drain_wire.append(bus.stats.wire_s - wire0)
        drains += 1
        next_t += PERIOD_S
        clock.sleep(max(0.0, next_t - clock.now()))
    elapsed = clock.now() - t0
    return {
        "odr": odr_hz,
        "drain_ms": 1000 * sum(drain_wire) / drains,
        "load_pct": 100 * bus.stats.wire_s / elapsed,
        "txn_per_s": bus.stats.transactions / elapsed,
        "bytes_per_drain": bus.stats.bytes / drains,
        "pairs_per_s_per_imu": pairs / elapsed / len(imus),
        "overruns": overruns,
    }


def analytic(odr_hz: int) -> float:
    """Bits per 40 ms batch from HARDWARE.md 4.1 arithmetic, for the same traffic."""
    words = 2 * odr_hz * PERIOD_S
    status = 1 + 9 * 2 + 1 + 9 * 3 + 1  # addr+reg, Sr, addr+2 bytes, STOP = 48 bits
    burst = 1 + 9 * 2 + 1 + 9 * (1 + 7 * words) + 1
    select = 1 + 9 * 2 + 1  # 20 bits
    bits = 6 * (status + burst) + 3 * select
    return 100 * bits / PERIOD_S / BUS_HZ


def main() -> None:
    print(f"Glove: 6 x LSM6DSOX behind a TCA9548A, {BUS_HZ // 1000} kHz, drain every 40 ms,")
    print(f"{DURATION_S:.0f} s simulated, wire time only (no host/ioctl overhead)\n")
    header = (
        f"{'ODR':>5} {'drain wire':>11} {'bus load':>9} {'arith.':>7} {'HW.md 4.3':>10} "
        f"{'txn/s':>6} {'B/drain':>8} {'pairs/s/IMU':>12} {'overruns':>9}"
    )
    print(header)
    for odr in (52, 104, 208, 416):
        r = run(odr)
        print(
            f"{odr:>3} Hz {r['drain_ms']:>8.2f} ms {r['load_pct']:>7.1f} % {analytic(odr):>5.1f} % "
            f"{HARDWARE_MD[odr]:>8.1f} % {r['txn_per_s']:>6.0f} {r['bytes_per_drain']:>8.0f} "
            f"{r['pairs_per_s_per_imu']:>12.1f} {r['overruns']:>9}"
        )


if __name__ == "__main__":
    main()
