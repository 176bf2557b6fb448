"""The simulated LSM6DSOX's sample arithmetic: noise draws and register words.

A sensor sample (g, dps) becomes the int16 LE words of the output registers and FIFO at the
configured full scale, with the self-test shift when self-test is on (DS12814 CTRL1_XL,
CTRL2_G, CTRL5_C, CTRL8_XL); FIFO tag bytes carry their parity bit. Kept apart from the
register model (:mod:`drivers.sim.lsm6dsox`) so that each reads at once.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable

Vec3 = tuple[float, float, float]

ACCEL_FS = {0: (2, 0.061), 1: (16, 0.488), 2: (4, 0.122), 3: (8, 0.244)}  # code: (g, mg/LSB)
GYRO_FS = {0: (250, 8.75), 1: (500, 17.5), 2: (1000, 35.0), 3: (2000, 70.0)}  # FS_G: mdps/LSB
#: Three int16 LE: an output register triple, a FIFO word's data.
HHH = struct.Struct("<hhh")
TWOPI = 2.0 * math.pi


def accel_encoder(
    ctrl1_xl: int, ctrl8_xl: int, ctrl5_c: int, self_test_mg: Vec3
) -> Callable[[Vec3], bytes]:
    """Accelerometer sample (g) -> OUTX_L_A..OUTZ_H_A bytes at the FS and self-test setting
    of these CTRL1_XL, CTRL8_XL and CTRL5_C values (self-test shift ``self_test_mg``)."""
    code = (ctrl1_xl >> 2) & 0x03
    if code == 1 and ctrl8_xl & 0x02:
        code = 0  # XL_FS_MODE = 1: code 01 means +-2 g
    mg_per_lsb = ACCEL_FS[code][1]
    st = {1: 1.0, 2: -1.0}.get(ctrl5_c & 0x03, 0.0)
    sx, sy, sz = (st * d for d in self_test_mg)
    pack = HHH.pack

    def encode(a: Vec3) -> bytes:
        return pack_i16(
            pack,
            round((a[0] * 1000 + sx) / mg_per_lsb),
            round((a[1] * 1000 + sy) / mg_per_lsb),
            round((a[2] * 1000 + sz) / mg_per_lsb),
        )

    return encode


def gyro_encoder(ctrl2_g: int, ctrl5_c: int, self_test_dps: Vec3) -> Callable[[Vec3], bytes]:
    """Gyroscope sample (dps) -> OUTX_L_G..OUTZ_H_G bytes at the FS and self-test setting of
    these CTRL2_G and CTRL5_C values (self-test shift ``self_test_dps`` at 2000 dps)."""
    fs_dps, mdps = (125, 4.375) if ctrl2_g & 0x02 else GYRO_FS[(ctrl2_g >> 2) & 0x03]
    st = {1: 1.0, 3: -1.0}.get((ctrl5_c >> 2) & 0x03, 0.0)
    sx, sy, sz = (st * d * fs_dps / 2000 for d in self_test_dps)
    pack = HHH.pack

    def encode(g: Vec3) -> bytes:
        return pack_i16(
            pack,
            round((g[0] + sx) * 1000 / mdps),
            round((g[1] + sy) * 1000 / mdps),
            round((g[2] + sz) * 1000 / mdps),
        )

    return encode


def gauss_z(rng: random.Random, n: int) -> list[float]:
    """The standard normal draws of ``n`` successive ``rng.gauss`` calls, the very numbers
    (its Box-Muller pairs, its ``gauss_next`` carry), with the call overhead paid once."""
    out: list[float] = []
    carry = rng.gauss_next  # type: ignore[attr-defined]
    draw = rng.random
    while len(out) < n:
        if carry is None:
            x2pi = draw() * TWOPI
            g2rad = math.sqrt(-2.0 * math.log(1.0 - draw()))
            out.append(math.cos(x2pi) * g2rad)
            carry = math.sin(x2pi) * g2rad
        else:
            out.append(carry)
            carry = None
    rng.gauss_next = carry  # type: ignore[attr-defined]
    return out


def i16(value: float) -> int:
    v = round(value)
    return 32767 if v > 32767 else -32768 if v < -32768 else v


def pack_i16(pack: Callable[..., bytes], x: int, y: int, z: int) -> bytes:
    """Three rounded readings as int16 LE, saturated at the register's limits."""
    if -32768 <= x <= 32767 and -32768 <= y <= 32767 and -32768 <= z <= 32767:
        return pack(x, y, z)
    return pack(i16(x), i16(y), i16(z))


def _parity_head(head: int) -> bytes:
    """The FIFO tag byte with its parity bit (bit 0: even parity of bits 7..1)."""
    return bytes((head | bin(head).count("1") & 1,))


#: Tag byte -> the byte with its parity bit, for every TAG_SENSOR/TAG_CNT value.
FIFO_TAG_BYTES = [_parity_head(head) for head in range(256)]
