"""Acquisition figures: achieved rates, bus utilisation, host CPU per cycle, jitter, memory.

:func:`acquisition_figures` runs a built station's acquisition loop for a while and measures
it. ``rig`` is duck-typed: ``clock``, ``acquisition`` and ``buses`` (name -> bus with
``stats.wire_s`` and ``speed_hz``; on real hardware the smbus2 adapter's counters). On a
simulated clock the run takes no real time and the figures are the loop's own; on the real
clock (``MonotonicClock``) it runs in real time in the loop's thread, which adds the jitter
figures. With simulated buses, the CPU spent inside the simulated chips is measured
separately (``bus.transfer`` timed) and subtracted, so ``cpu_per_cycle_us`` is the
product code's share.

Goals (``reference/HARDWARE.md`` §4.6): host CPU per cycle ≤ 10 % of the cycle's wire time;
100 Hz per pad and 104 Hz per IMU with no overruns.
"""

from __future__ import annotations

import resource
import time
import tracemalloc
from typing import Any

import numpy as np

CPU_GOAL_RATIO = 0.10


def max_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def acquisition_figures(rig: Any, seconds: float = 5.0, warmup_s: float = 0.5) -> dict[str, Any]:
    """Run ``rig.acquisition`` for ``seconds`` after ``warmup_s``; returns the figures."""
    acq, clock = rig.acquisition, rig.clock
    buses: dict[str, Any] = dict(rig.buses)
    polls: list[tuple[float, float, float, float]] = []  # (perf_t, cpu_s, sim_cpu_s, wire_s)
    sim_cpu = [0.0]
    restore = [_time_transfers(bus, sim_cpu) for bus in buses.values()]
    inner = acq.poll

    recording = [True]

    def timed_poll() -> None:
        if not recording[0]:
            inner()
            return
        wire0 = sum(b.stats.wire_s for b in buses.values())
        sim0 = sim_cpu[0]
        t = time.perf_counter()
        c0 = time.process_time()
        inner()
        cpu = time.process_time() - c0
        wire = sum(b.stats.wire_s for b in buses.values()) - wire0
        polls.append((t, cpu, sim_cpu[0] - sim0, wire))

    acq.poll = timed_poll
    try:
        acq.start()
        clock.sleep(warmup_s)
        polls.clear()
        counters0 = acq.counters_snapshot()
        wire0 = {name: b.stats.wire_s for name, b in buses.items()}
        t0 = clock.now()
        clock.sleep(seconds)
        elapsed = clock.now() - t0
        recording[0] = False
        wire = {name: b.stats.wire_s - wire0[name] for name, b in buses.items()}
        counters = {k: v - counters0.get(k, 0) for k, v in acq.counters_snapshot().items()}
        window = acq.window(elapsed)
        # Allocations while running, traced apart: tracemalloc slows every allocation down.
        tracemalloc.start()
        clock.sleep(min(0.5, seconds))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        acq.stop()
        tracemalloc.stop()
        acq.poll = inner
        for undo in restore:
            undo()
    cpu = np.array([p[1] for p in polls])
    sim = np.array([p[2] for p in polls])
    wire_c = np.array([p[3] for p in polls])
    own = np.clip(cpu - sim, 0.0, None)
    figures: dict[str, Any] = {
        "seconds": round(elapsed, 3),
        "clock": type(clock).__name__,
        "period_ms": round(acq.period_s * 1000, 3),
        "polls": len(polls),
        "pad_rate_hz": {p: round(_rate(w.t_s, elapsed), 2) for p, w in window.pads.items()},
        "imu_rate_hz": {s: round(_rate(w.t_s, elapsed), 2) for s, w in window.imus.items()},
        "bus_utilisation": {name: round(w / elapsed, 4) for name, w in wire.items()},
        "wire_per_cycle_us": round(1e6 * float(np.mean(wire_c)), 2) if len(wire_c) else 0.0,
        "cpu_per_cycle_us": round(1e6 * float(np.mean(own)), 2) if len(own) else 0.0,
        "cpu_per_cycle_p99_us": round(1e6 * float(np.percentile(own, 99)), 2) if len(own) else 0,
        "sim_chip_cpu_per_cycle_us": round(1e6 * float(np.mean(sim)), 2) if len(sim) else 0.0,
        "cpu_to_wire_ratio": round(float(np.sum(own) / np.sum(wire_c)), 4) if len(own) else 0.0,
        "events": {k: v for k, v in counters.items() if v},
        "ring_buffers_kib": round(_ring_bytes(acq) / 1024, 1),
        "peak_traced_while_running_kib": round(peak / 1024, 1),
        "max_rss_mib": max_rss_mib(),
    }
    if figures["clock"] != "SimClock" and len(polls) > 2:
        intervals = np.diff([p[0] for p in polls])
        dev = np.abs(intervals - acq.period_s) * 1e6
        figures["poll_jitter_us"] = {
            "p50": round(float(np.percentile(dev, 50)), 1),
            "p99": round(float(np.percentile(dev, 99)), 1),
        }
        pad_dt = np.concatenate([np.diff(w.t_s) for w in window.pads.values() if len(w.t_s) > 2])
        if len(pad_dt):
            nominal = float(np.median(pad_dt))
            pdev = np.abs(pad_dt - nominal) * 1e6
            figures["pad_interval_jitter_us"] = {
                "p50": round(float(np.percentile(pdev, 50)), 1),
                "p99": round(float(np.percentile(pdev, 99)), 1),
            }
    figures["gap"] = _gap(figures, acq)
    return figures


def _rate(t: np.ndarray, elapsed: float) -> float:
    """Samples per second over the span of the timestamps (the newest samples of a window
    may not be drained yet, so the window length would under-count)."""
    if len(t) < 2 or t[-1] <= t[0]:
        return len(t) / elapsed if elapsed > 0 else 0.0
    return (len(t) - 1) / float(t[-1] - t[0])


def _ring_bytes(acq: Any) -> int:
    return int(acq.store.nbytes())


def _gap(f: dict[str, Any], acq: Any) -> dict[str, Any]:
    """How far the figures are from the goals (positive = short of the goal)."""
    pads = f["pad_rate_hz"].values()
    imus = f["imu_rate_hz"].values()
    odr = acq.glove.odr_hz if acq.glove is not None else 0.0
    return {
        "cpu_ratio_over_goal": round(f["cpu_to_wire_ratio"] - CPU_GOAL_RATIO, 4),
        "pad_hz_short": round(max(0.0, 100.0 - min(pads, default=100.0)), 2),
        "imu_hz_short": round(max(0.0, odr - min(imus, default=odr)), 2),
        "overrun_ticks": f["events"].get("overrun_ticks", 0),
        "imu_overruns": f["events"].get("imu_overruns", 0),
    }


def _time_transfers(bus: Any, acc: list[float]) -> Any:
    """Time ``bus.transfer`` (simulated buses only) into ``acc``; returns an undo."""
    inner = getattr(bus, "transfer", None)
    if inner is None or not hasattr(bus, "log"):
        return lambda: None

    def timed(segments: Any) -> Any:
        c0 = time.process_time()
        try:
            return inner(segments)
        finally:
            acc[0] += time.process_time() - c0

    bus.transfer = timed

    def undo() -> None:
        del bus.transfer

    return undo
