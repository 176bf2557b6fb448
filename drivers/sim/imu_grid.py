"""When the simulated LSM6DSOX's samples fall due: rates from the ODR and batch-rate codes,
streams on one rate grouped into one grid, grid points turned into FIFO time slots.

Rates follow DS12814 CTRL1_XL, CTRL2_G (ODR), FIFO_CTRL3 (BDR_XL, BDR_GY), FIFO_CTRL4
(FIFO_MODE, ODR_T_BATCH, DEC_TS_BATCH) and CTRL10_C (TIMESTAMP_EN); the modelling choices
are the register model's (:mod:`drivers.sim.lsm6dsox`). Kept apart from it so that each
reads at once.
"""

from __future__ import annotations

from collections.abc import Sequence

ODR_HZ = (0.0, 12.5, 26.0, 52.0, 104.0, 208.0, 416.0, 833.0, 1666.0, 3333.0, 6666.0)
TEMP_BATCH_HZ = (0.0, 1.6, 12.5, 52.0)  # ODR_T_BATCH
TS_DECIMATION = (0, 1, 8, 32)  # DEC_TS_BATCH
#: FIFO modes that collect (1 FIFO, 3 continuous-to-FIFO, 6 continuous).
COLLECTING_MODES = (1, 3, 6)
#: Position of a stream's word in a FIFO time slot (timestamp, gyro, accel, temperature).
ORDER = {"ts": 0, "g": 1, "xl": 2, "temp": 3}

#: One rate's streams: (rate Hz, output-register streams, FIFO streams in slot order).
Grid = tuple[float, list[str], list[str]]
#: A FIFO time slot: its time (s), its streams in word order.
Slot = tuple[float, Sequence[str]]


def stream_rates(
    ctrl1_xl: int, ctrl2_g: int, fifo_ctrl3: int, fifo_ctrl4: int, ctrl10_c: int
) -> dict[str, float]:
    """Rates (Hz, 0 = off) of the output registers ('out_xl', 'out_g') and of the FIFO
    streams ('xl', 'g', 'temp', 'ts') for these register values."""
    odr_xl, odr_g = _odr(ctrl1_xl, accel=True), _odr(ctrl2_g, accel=False)
    rates = {"out_xl": odr_xl, "out_g": odr_g, "xl": 0.0, "g": 0.0, "temp": 0.0, "ts": 0.0}
    if fifo_ctrl4 & 0x07 not in COLLECTING_MODES:
        return rates
    rates["xl"] = min(_bdr(fifo_ctrl3 & 0x0F), odr_xl) if odr_xl else 0.0
    rates["g"] = min(_bdr(fifo_ctrl3 >> 4), odr_g) if odr_g else 0.0
    if odr_xl or odr_g:
        rates["temp"] = TEMP_BATCH_HZ[(fifo_ctrl4 >> 4) & 0x03]
    dec = TS_DECIMATION[fifo_ctrl4 >> 6]
    if dec and ctrl10_c & 0x20:
        rates["ts"] = max(rates["xl"], rates["g"]) / dec
    return rates


def grids(rates: dict[str, float]) -> list[Grid]:
    """The running streams grouped by rate: streams on one grid fall due together."""
    by_rate: dict[float, tuple[list[str], list[str]]] = {}
    for name in sorted((n for n in rates if rates[n]), key=lambda n: ORDER.get(n, -1)):
        outs, fifo = by_rate.setdefault(rates[name], ([], []))
        (outs if name.startswith("out") else fifo).append(name)
    return [(rate, outs, fifo) for rate, (outs, fifo) in by_rate.items()]


def fifo_slots(streams: list[tuple[float, int, int, list[str]]], t_base: float) -> list[Slot]:
    """The FIFO slots of ``streams`` (rate, first and last grid index, names in slot order)
    on the grid anchored at ``t_base``, in time order: words of one instant share a slot,
    in the datasheet's order."""
    if len(streams) == 1:  # one grid: every stream in every slot
        rate, first, last, names = streams[0]
        return [(t_base + j / rate, names) for j in range(first, last + 1)]
    events = sorted(
        (t_base + j / rate, ORDER[name], name)
        for rate, first, last, names in streams
        for name in names
        for j in range(first, last + 1)
    )
    slots: list[tuple[float, list[str]]] = []
    for t, _, name in events:
        if slots and slots[-1][0] == t:
            slots[-1][1].append(name)
        else:
            slots.append((t, [name]))
    return slots  # type: ignore[return-value]


def _odr(ctrl: int, accel: bool) -> float:
    code = ctrl >> 4
    if code == 11:
        return 1.6 if accel else 0.0  # 1.6 Hz is an accelerometer low-power rate
    return ODR_HZ[code] if code < len(ODR_HZ) else 0.0


def _bdr(code: int) -> float:
    if code == 11:
        return 6.5  # BDR code 1011: 6.5 Hz
    return ODR_HZ[code] if code < len(ODR_HZ) else 0.0
