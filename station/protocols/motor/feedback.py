"""Sample-paced biofeedback: the bar is redrawn as soon as the pad has a new sample, and
every frame's timing is kept so the station's own latency can be stated and subtracted.

A fixed refresh period adds up to one period of waiting to every frame (maximal grip's
50 ms gave a 59 ms median force-step-to-bar). Waiting for the next sample instead leaves
only the wire: the sample's conversion and read (one pad period at worst) and the bar's
bytes on the LCD bus. The simulated clock advances with the bus wire time, so the clock
after :meth:`~station.ui.SessionUi.biofeedback` returns is when the frame's last byte was
on the bus, on a real station as in the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: How often the loop looks for a new sample once one is due (s): well under a pad period.
POLL_S = 0.001
#: Pad periods to wait past a due sample before drawing without one: after a long LCD
#: write the acquisition loop drops the conversion it could not read in time and starts
#: the chip's inputs over (up to one pad period), then converts.
GIVE_UP = 3


def wait_for_sample(
    clock: Any,
    newest_t: Callable[[], float | None],
    drawn_t: float | None,
    period_s: float,
    check: Callable[[], None],
) -> None:
    """Sleep until the pad has a sample newer than ``drawn_t`` (the one last drawn) and
    taken within ``period_s`` of now, at most :data:`GIVE_UP` periods past when it was due;
    ``check()`` (Stop, pause, the session cap) between sleeps. A long LCD write (a new
    screen: about 70 ms) holds the acquisition loop back; the conversion it then reads
    first is as old as the write, so the loop waits for the next. ``newest_t()`` returning
    None (a port that does not know sample times, or no sample yet) makes this a fixed
    ``period_s`` wait."""
    start = clock.now()
    check()
    if newest_t() is None:
        clock.sleep(period_s)
        return
    after = start - period_s if drawn_t is None else max(drawn_t, start - period_s)
    due = max(start, after + period_s)
    give_up = due + GIVE_UP * period_s
    if due > start + POLL_S:
        clock.sleep(due - start - POLL_S / 2)
    while True:
        t = newest_t()
        if t is not None and t > after:
            return
        if clock.now() >= give_up:
            return
        check()
        clock.sleep(POLL_S)


@dataclass
class FrameLog:
    """When each bar frame's force was sampled, when its drawing started (the target it
    shows is the one of that instant) and when its last byte was on the LCD bus (clock s)."""

    sample_t: list[float] = field(default_factory=list)
    start_t: list[float] = field(default_factory=list)
    done_t: list[float] = field(default_factory=list)

    def add(self, sample_t: float | None, start_t: float, done_t: float) -> None:
        self.sample_t.append(np.nan if sample_t is None else sample_t)
        self.start_t.append(start_t)
        self.done_t.append(done_t)

    def array(self, t0: float) -> np.ndarray:
        """Rows of (sample, start, done) in s from ``t0``."""
        if not self.done_t:
            return np.empty((0, 3))
        return np.column_stack([self.sample_t, self.start_t, self.done_t]) - t0


@dataclass(frozen=True)
class Latency:
    """The station's own biofeedback latency over one run (ms).

    ``force_p50_ms``/``force_p99_ms``: a force sample to its bar on the LCD.
    ``target_ms``: the mean age of the target the LCD shows, over the run's time: drawing
    time plus, on average, half the time until the next frame replaces it. A patient who
    follows the band perfectly lags the target by this much: the part of a measured lag
    that is the station's, not the patient's."""

    frames: int
    force_p50_ms: float | None
    force_p99_ms: float | None
    target_ms: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "force_p50_ms": _r(self.force_p50_ms),
            "force_p99_ms": _r(self.force_p99_ms),
            "target_ms": _r(self.target_ms),
        }


def latency(frames: np.ndarray, t_end: float | None = None) -> Latency:
    """The :class:`Latency` of ``frames`` (rows of sample, start, done; s); the last frame
    shows until ``t_end`` (default: one median frame interval after it is done)."""
    if len(frames) == 0:
        return Latency(0, None, None, None)
    sample, start, done = frames[:, 0], frames[:, 1], frames[:, 2]
    lag = (done - sample)[np.isfinite(sample)] * 1e3
    p50 = float(np.percentile(lag, 50)) if len(lag) else None
    p99 = float(np.percentile(lag, 99)) if len(lag) else None
    target = None
    if len(done) >= 2:
        gaps = np.diff(done)
        end = t_end if t_end is not None else done[-1] + float(np.median(gaps))
        shown = np.append(gaps, max(0.0, end - done[-1]))
        if shown.sum() > 0:
            age = (done - start) * shown + shown**2 / 2.0
            target = float(age.sum() / shown.sum()) * 1e3
    return Latency(len(frames), p50, p99, target)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 2)
