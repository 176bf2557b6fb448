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
from collections.abc import Callable, Sequence

Vec3 = tuple[float, float, float]
#: Output scale (mg or mdps per LSB) and the self-test shift per axis (mg or dps).
Scaling = tuple[float, float, float, float]

ACCEL_FS = {0: (2, 0.061), 1: (16, 0.488), 2: (4, 0.122), 3: (8, 0.244)}  # code: (g, mg/LSB)
GYRO_FS = {0: (250, 8.75), 1: (500, 17.5), 2: (1000, 35.0), 3: (2000, 70.0)}  # FS_G: mdps/LSB
#: Three int16 LE: an output register triple, a FIFO word's data.
HHH = struct.Struct("<hhh")
TWOPI = 2.0 * math.pi


def accel_scaling(ctrl1_xl: int, ctrl8_xl: int, ctrl5_c: int, self_test_mg: Vec3) -> Scaling:
    """``(mg per LSB, self-test shift x, y, z in mg)`` at the FS and self-test setting of these
    CTRL1_XL, CTRL8_XL and CTRL5_C values (self-test shift ``self_test_mg``)."""
    code = (ctrl1_xl >> 2) & 0x03
    if code == 1 and ctrl8_xl & 0x02:
        code = 0  # XL_FS_MODE = 1: code 01 means +-2 g
    st = {1: 1.0, 2: -1.0}.get(ctrl5_c & 0x03, 0.0)
    sx, sy, sz = (st * d for d in self_test_mg)
    return ACCEL_FS[code][1], sx, sy, sz


def gyro_scaling(ctrl2_g: int, ctrl5_c: int, self_test_dps: Vec3) -> Scaling:
    """``(mdps per LSB, self-test shift x, y, z in dps)`` at the FS and self-test setting of
    these CTRL2_G and CTRL5_C values (self-test shift ``self_test_dps`` at 2000 dps)."""
    fs_dps, mdps = (125, 4.375) if ctrl2_g & 0x02 else GYRO_FS[(ctrl2_g >> 2) & 0x03]
    st = {1: 1.0, 3: -1.0}.get((ctrl5_c >> 2) & 0x03, 0.0)
    sx, sy, sz = (st * d * fs_dps / 2000 for d in self_test_dps)
    return mdps, sx, sy, sz


def accel_bytes(a: Vec3, scaling: Scaling) -> bytes:
    """Accelerometer sample (g) -> OUTX_L_A..OUTZ_H_A bytes at :func:`accel_scaling`."""
    mg_per_lsb, sx, sy, sz = scaling
    return pack_i16(
        HHH.pack,
        round((a[0] * 1000 + sx) / mg_per_lsb),
        round((a[1] * 1000 + sy) / mg_per_lsb),
        round((a[2] * 1000 + sz) / mg_per_lsb),
    )


def gyro_bytes(g: Vec3, scaling: Scaling) -> bytes:
    """Gyroscope sample (dps) -> OUTX_L_G..OUTZ_H_G bytes at :func:`gyro_scaling`."""
    mdps, sx, sy, sz = scaling
    return pack_i16(
        HHH.pack,
        round((g[0] + sx) * 1000 / mdps),
        round((g[1] + sy) * 1000 / mdps),
        round((g[2] + sz) * 1000 / mdps),
    )


def gauss_z(rng: random.Random, n: int) -> list[float]:
    """The standard normal draws of ``n`` successive ``rng.gauss`` calls, the very numbers
    (its Box-Muller pairs, its ``gauss_next`` carry), with the call overhead paid once."""
    out: list[float] = []
    carry = rng.gauss_next  # type: ignore[attr-defined]
    if carry is not None and n > 0:
        out.append(carry)
        carry = None
    draw, log, sqrt, cos, sin = rng.random, math.log, math.sqrt, math.cos, math.sin
    for _ in range((n - len(out) + 1) // 2):
        x2pi = draw() * TWOPI
        g2rad = sqrt(-2.0 * log(1.0 - draw()))
        out.append(cos(x2pi) * g2rad)
        out.append(sin(x2pi) * g2rad)
    if len(out) > n:
        carry = out.pop()
    rng.gauss_next = carry  # type: ignore[attr-defined]
    return out


def noisy_samples(
    motions: list[tuple[Vec3, Vec3]],
    accel_bias_g: Vec3,
    gyro_bias_dps: Vec3,
    accel_noise_g: float,
    gyro_noise_dps: float,
    normals: Callable[[int], list[float]],
) -> list[tuple[Vec3, Vec3]]:
    """``(accel, gyro)`` motions with bias and seeded noise added: per sample the standard
    normal draws (``normals(n)``: n of them) x, y, z accel then x, y, z gyro (a sensor
    without noise draws none)."""
    ab0, ab1, ab2 = accel_bias_g
    gb0, gb1, gb2 = gyro_bias_dps
    an, gn = accel_noise_g, gyro_noise_dps
    per = (3 if an else 0) + (3 if gn else 0)
    z = normals(per * len(motions)) if per else []
    k = 3 if an else 0  # offset of the gyro draws in a sample's
    out: list[tuple[Vec3, Vec3]] = []
    i = 0
    for accel, gyro in motions:
        a = (
            (accel[0] + ab0 + (0 + z[i] * an), accel[1] + ab1 + (0 + z[i + 1] * an),
             accel[2] + ab2 + (0 + z[i + 2] * an))
            if an else (accel[0] + ab0 + 0, accel[1] + ab1 + 0, accel[2] + ab2 + 0)
        )  # fmt: skip
        j = i + k
        g = (
            (gyro[0] + gb0 + (0 + z[j] * gn), gyro[1] + gb1 + (0 + z[j + 1] * gn),
             gyro[2] + gb2 + (0 + z[j + 2] * gn))
            if gn else (gyro[0] + gb0 + 0, gyro[1] + gb1 + 0, gyro[2] + gb2 + 0)
        )  # fmt: skip
        out.append((a, g))
        i += per
    return out


def fifo_block(
    slots: Sequence[tuple[float, Sequence[str]]],
    heads: Sequence[int],
    samples: Sequence[tuple[Vec3, Vec3]],
    accel: Scaling,
    gyro: Scaling,
    temp_raw: int,
    timestamp: Callable[[float], int],
) -> bytes:
    """The FIFO words of ``slots`` (time, streams 'ts', 'g', 'xl', 'temp' in word order),
    each slot's tag head (TAG_CNT << 1) and sample, packed in one go. ``accel`` and
    ``gyro`` are :func:`accel_scaling` and :func:`gyro_scaling`; ``timestamp(t)`` gives
    TIMESTAMP[31:0] at ``t``. Readings beyond int16 saturate."""
    mg, ax, ay, az = accel
    mdps, gx, gy, gz = gyro
    tag_g, tag_xl, tag_t, tag_ts = TAG_BYTE[1], TAG_BYTE[2], TAG_BYTE[3], TAG_BYTE[4]
    vals: list[int] = []
    fmt = ["<"]
    for (t, names), head, (a, g) in zip(slots, heads, samples, strict=False):
        for name in names:
            if name == "g":
                vals += (
                    tag_g[head],
                    round((g[0] + gx) * 1000 / mdps),
                    round((g[1] + gy) * 1000 / mdps),
                    round((g[2] + gz) * 1000 / mdps),
                )
            elif name == "xl":
                vals += (
                    tag_xl[head],
                    round((a[0] * 1000 + ax) / mg),
                    round((a[1] * 1000 + ay) / mg),
                    round((a[2] * 1000 + az) / mg),
                )
            elif name == "temp":
                vals += (tag_t[head], temp_raw, 0, 0)
            else:
                fmt.append("BIH")
                vals += (tag_ts[head], timestamp(t), 0)
                continue
            fmt.append("B3h")
    try:
        return struct.pack("".join(fmt), *vals)
    except struct.error:  # a reading beyond full scale: saturate, as the chip does
        return struct.pack("".join(fmt), *_saturated(fmt, vals))


def gyro_accel_block(
    motions: Sequence[tuple[Vec3, Vec3]],
    z: Sequence[float],
    heads: Sequence[int],
    bias: tuple[Vec3, Vec3],
    noise: tuple[float, float],
    scaling: tuple[Scaling, Scaling],
) -> tuple[bytes, tuple[Vec3, Vec3]]:
    """The FIFO words of slots holding a gyro then an accel word, both sensors noisy (a
    glove IMU batching both at one rate): what :func:`noisy_samples` then
    :func:`fifo_block` give, the same arithmetic in one pass. ``z`` holds six normal
    draws per slot; ``bias``, ``noise`` and ``scaling`` are (accel, gyro). Returns the
    block and the last slot's sample."""
    (ab0, ab1, ab2), (gb0, gb1, gb2) = bias
    an, gn = noise
    (mg, ax, ay, az), (mdps, gx, gy, gz) = scaling
    tag_g, tag_xl = TAG_BYTE[1], TAG_BYTE[2]
    vals: list[int] = []
    a0 = a1 = a2 = g0 = g1 = g2 = 0.0
    draws = iter(z)
    # Components in locals, unpacked by the loop: no tuple made or indexed per sample.
    for ((m0, m1, m2), (r0, r1, r2)), head, z0, z1, z2, z3, z4, z5 in zip(
        motions, heads, draws, draws, draws, draws, draws, draws, strict=False
    ):
        a0, a1, a2 = m0 + ab0 + (0 + z0 * an), m1 + ab1 + (0 + z1 * an), m2 + ab2 + (0 + z2 * an)
        g0, g1, g2 = r0 + gb0 + (0 + z3 * gn), r1 + gb1 + (0 + z4 * gn), r2 + gb2 + (0 + z5 * gn)
        vals += (
            tag_g[head],
            round((g0 + gx) * 1000 / mdps),
            round((g1 + gy) * 1000 / mdps),
            round((g2 + gz) * 1000 / mdps),
            tag_xl[head],
            round((a0 * 1000 + ax) / mg),
            round((a1 * 1000 + ay) / mg),
            round((a2 * 1000 + az) / mg),
        )
    a, g = (a0, a1, a2), (g0, g1, g2)
    words = 2 * len(motions)
    try:
        return _words_struct(words).pack(*vals), (a, g)
    except struct.error:  # a reading beyond full scale: saturate, as the chip does
        return _words_struct(words).pack(*_saturated(["<"] + ["B3h"] * words, vals)), (a, g)


def _words_struct(words: int) -> struct.Struct:
    """``words`` FIFO words of a tag byte and three int16 (kept: drains repeat sizes)."""
    st = _WORDS_STRUCTS.get(words)
    if st is None:
        st = struct.Struct("<" + "B3h" * words)
        if words <= 64:
            _WORDS_STRUCTS[words] = st
    return st


_WORDS_STRUCTS: dict[int, struct.Struct] = {}


def _saturated(fmt: list[str], vals: list[int]) -> list[int]:
    out = list(vals)
    i = 0
    for piece in fmt[1:]:
        if piece == "B3h":
            out[i + 1 : i + 4] = (i16(v) for v in out[i + 1 : i + 4])
            i += 4
        else:
            i += 3
    return out


def i16(value: float) -> int:
    v = round(value)
    return 32767 if v > 32767 else -32768 if v < -32768 else v


def pack_i16(pack: Callable[..., bytes], x: int, y: int, z: int) -> bytes:
    """Three rounded readings as int16 LE, saturated at the register's limits."""
    if -32768 <= x <= 32767 and -32768 <= y <= 32767 and -32768 <= z <= 32767:
        return pack(x, y, z)
    return pack(i16(x), i16(y), i16(z))


def _with_parity(head: int) -> int:
    """The FIFO tag byte with its parity bit (bit 0: even parity of bits 7..1)."""
    return head | bin(head).count("1") & 1


#: TAG_BYTE[TAG_SENSOR][TAG_CNT << 1]: the tag byte with its parity bit.
TAG_BYTE = [[_with_parity(tag << 3 | cnt) for cnt in range(8)] for tag in range(32)]
