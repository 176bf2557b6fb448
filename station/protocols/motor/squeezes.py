"""What the fast-squeeze, grip-release and sustained-hold tasks share: a squeeze's quality
flags, its stop rules (no squeeze twice in a row, a pad that gives no force), and the
smoothing of a force trace (``reference/CLINICAL.md`` §3.3-3.5; docs/motor.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from station.kinds import DecisionKind, Scope
from station.protocols.base import ProtocolStop, SessionContext
from station.protocols.motor.common import Trace, declined, no_effort
from station.safety import Decision

#: A squeeze whose peak stays below this is no squeeze (looked away), not a 0 N result.
NO_EFFORT_N = 1.0
#: Squeezes in a row without effort that end the task.
MAX_MISSED = 2
#: More than this fraction of a squeeze's samples without a force: the pad, not the hand.
MAX_GAP_FRACTION = 0.5
#: Technician code of the pad-gaps screen (as maximal grip's).
PAD_GAPS_CODE = "E-PAD-000"


@dataclass(frozen=True)
class Effort:
    """What one squeeze's trace holds, for its quality flags and the stop rules."""

    peak_n: float | None
    samples: int
    gaps: int
    at_cap: bool
    paused: bool

    @property
    def pad_problem(self) -> bool:
        return self.samples == 0 or self.gaps > MAX_GAP_FRACTION * self.samples

    @property
    def no_effort(self) -> bool:
        return not self.pad_problem and (self.peak_n or 0.0) < NO_EFFORT_N

    def quality(self, *extra: str) -> tuple[str, ...]:
        flags = {
            "sensor_gaps": self.gaps > 0,
            "pad_gaps": self.pad_problem,
            "at_force_cap": self.at_cap,
            "paused": self.paused,
            "no_effort": self.no_effort,
        }
        return tuple(f for f, on in flags.items() if on) + extra


def effort(trace: Trace, paused: bool) -> Effort:
    """The peak (3-sample median, N) and the gaps of ``trace``."""
    f = trace.force_n[trace.valid]
    peak = float(np.max(median3(f))) if len(f) else None
    return Effort(peak, len(trace.force_n), trace.gaps, trace.at_cap, paused)


class Missed:
    """Squeezes without effort in a row: the first asks to try again (Back declines the
    task), the second ends it (``no_effort``). A paused squeeze neither counts nor resets."""

    def __init__(self, name: str, side: str) -> None:
        self.name, self.side, self.count = name, side, 0

    def add(self, ctx: SessionContext, e: Effort) -> None:
        if e.paused:
            return
        if not e.no_effort:
            self.count = 0
            return
        self.count += 1
        if self.count >= MAX_MISSED:
            raise ProtocolStop(no_effort(self.name, self.side))
        ask = functools.partial(ctx.ui.ask_ok, "grip.again", ctx.no_response_s)
        if not ctx.answer(ask):
            raise ProtocolStop(declined(self.name, self.side))


def stop_on_pad_gaps(ctx: SessionContext, e: Effort, pad: int, side: str) -> None:
    """After journalling: a squeeze the pad gave no force for is the station's problem (the
    acquisition's own fault first, if it has one), as in maximal grip."""
    if not e.pad_problem:
        return
    ctx.check()
    ctx.ui.error("error.pads", PAD_GAPS_CODE)
    ctx.wait(5.0)
    what = f"no force for {e.gaps} of {e.samples} samples" if e.samples else "no samples"
    raise ProtocolStop(
        Decision(
            DecisionKind.PAD_GAPS,
            Scope.FORCE,
            f"pad {pad} gave {what} of a squeeze",
            {"pad": pad, "hand": side, "samples": e.samples, "gaps": e.gaps},
        )
    )


def median3(f: np.ndarray) -> np.ndarray:
    """3-sample running median (single-sample spikes out, a peak kept)."""
    if len(f) < 3:
        return f
    padded = np.concatenate(([f[0]], f, [f[-1]]))
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


def moving_mean(t: np.ndarray, f: np.ndarray, width_s: float) -> np.ndarray:
    """Mean of the samples within ±``width_s``/2 of each sample time."""
    if not len(f):
        return f
    c = np.concatenate(([0.0], np.cumsum(f)))
    lo = np.searchsorted(t, t - width_s / 2, side="left")
    hi = np.searchsorted(t, t + width_s / 2, side="right")
    return (c[hi] - c[lo]) / np.maximum(hi - lo, 1)
