"""Active finger range of motion with the IMU glove (``finger_rom``; docs/motor.md).

A reference pose first (hand flat, fingers straight: the glove's zero flexion, gyro biases;
:meth:`sensors.acquisition.Acquisition.begin_glove_still`), then the hand held up for a few
seconds (postural tremor, 4-12 Hz band of the back-of-hand gyro), then, per finger, the
best of ``tries`` active flexions (bend as far as you can) and extensions (lift back as far
as you can), each the finger's flexion relative to the back of the hand
(:meth:`sensors.readings.Readings.flexion_deg`). Every hold and the tremor window are
journalled as trials as they end; the metrics are the best try per finger and direction.

Not a force task: no pad is read, and a stop here never stops force work. The glove's own
faults end only this protocol (the runner's session monitor ignores them): this protocol
watches the acquisition's fault book itself while it runs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

import numpy as np

from sensors.faults import GloveUnplugged, ImuFault, SensorFault
from station.catalog import FINGER_ROM
from station.journal import Trial
from station.kinds import DecisionKind, Scope
from station.protocols.base import MetricsContext, ProtocolStop, SessionContext
from station.protocols.motor.common import MotorProtocol
from station.protocols.motor.finger_results import (
    DIRECTIONS,
    TREMOR_BAND_HZ,
    extreme,
    finger_metrics,
    held,
)
from station.protocols.motor.guided import answered, declined_here, timed
from station.safety import Decision

T = TypeVar("T")

#: The reference pose: how long the hand stays still, and how many times it is asked for.
STILL_S = 2.0
STILL_TRIES = 2
#: The hand held up for the tremor: screen time, and the window analysed (its last part,
#: after the patient has raised the hand).
TREMOR_HOLD_S = 5.0
TREMOR_WINDOW_S = 4.0
#: Between two holds: the finger relaxes.
RELAX_S = 1.5
#: A hold's angle is the median flexion over its last part (the finger held at its end of
#: range, whatever pose it started from), this fraction of the hold.
HELD_FRACTION = 1.0 / 3.0
#: A hold with a gap longer than this in its samples is not a measurement of it.
MAX_GAP_S = 0.25
#: A "bend" that never passed this flexion is no movement (flagged, not a range).
NO_MOVEMENT_DEG = 5.0
_SCREEN = {"flexion": "fingers.bend", "extension": "fingers.lift"}


class GlovePort(Protocol):
    """What this protocol reads of the acquisition (``sensors.acquisition.Acquisition``)."""

    glove: Any
    glove_fitted: bool

    def flexion_deg(self, finger: str, seconds: float = 0.0) -> tuple[Any, Any]: ...
    def tremor(self, seconds: float = 4.0, segment: str = "back") -> Any: ...
    def glove_fault(self) -> SensorFault | None: ...
    def begin_glove_still(self) -> None: ...
    def end_glove_still(self, reference: bool = True) -> dict[str, Any]: ...
    def cancel_glove_still(self) -> None: ...


class GloveLost(Exception):
    """The glove failed while this protocol ran (raised from the session's checks)."""

    def __init__(self, fault: SensorFault) -> None:
        super().__init__(str(fault))
        self.fault = fault


def glove_port(ctx: SessionContext) -> GlovePort | None:
    """The acquisition serving the glove, or None (no glove, or no acquisition reachable:
    the session's acquisition is its force port, present only with pads fitted)."""
    port = ctx.forces
    if port is None or not getattr(port, "glove_fitted", False):
        return None
    return cast(GlovePort, port)


class FingerRom(MotorProtocol, spec=FINGER_ROM):
    """Needs the glove; reads no pad (``pads_used`` is empty)."""

    intro_key = "fingers.intro"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.fingers: list[str] = list(self.params["fingers"])
        self.tries: int = self.params["tries"]
        self.hold_s: float = float(self.params["hold_s"])

    def pads_used(self) -> tuple[int, ...]:
        return ()

    def check_ready(self, ctx: SessionContext) -> None:
        """The glove fitted, readable and not faulty (else only this protocol ends)."""
        port = glove_port(ctx)
        if port is None:
            reason = "the glove cannot be read on this station"
            raise ProtocolStop(Decision(DecisionKind.GLOVE_FAULT, Scope.PROTOCOL, reason, {}))
        fault = port.glove_fault()
        if fault is not None:
            self._glove_lost(ctx, ctx.hands[self.role], fault)

    # -- running ---------------------------------------------------------------------------

    def run(self, ctx: SessionContext) -> None:
        side = ctx.hands[self.role]
        port = glove_port(ctx)
        assert port is not None  # check_ready
        saved = ctx.monitor
        ctx.monitor = _watching(saved, port)
        try:
            ask = functools.partial(ctx.ui.ask_ok, self.intro_key, ctx.no_response_s, hand=side)
            if not answered(ctx, ask):
                raise ProtocolStop(declined_here(self.name, side))
            primed = self.prime(ctx, side)
            self.practise(ctx, side, primed)
        except GloveLost as lost:
            ctx.monitor = saved
            self._glove_lost(ctx, side, lost.fault)
        finally:
            ctx.monitor = saved

    def practise(self, ctx: SessionContext, side: str, primed: bool) -> None:
        port = glove_port(ctx)
        assert port is not None
        self._reference(ctx, port, side)
        index = 0
        ctx.record_trial(self._tremor(ctx, port, side, primed, index))
        for finger in self.fingers:
            for direction in DIRECTIONS:
                for k in range(self.tries):
                    index += 1
                    trial = self._hold(ctx, port, side, primed, index, finger, direction, k)
                    ctx.record_trial(trial)
        self.block_done(ctx, "fingers.result", done=len(self.fingers))

    def _reference(self, ctx: SessionContext, port: GlovePort, side: str) -> None:
        """Hand flat, fingers straight, still: the glove's zero flexion and gyro biases.
        A pause during the hold, or a hand that moved, asks again; twice moved ends it."""
        ask = functools.partial(ctx.ui.ask_ok, "fingers.flat", ctx.no_response_s)
        if not answered(ctx, ask):
            raise ProtocolStop(declined_here(self.name, side))
        for _ in range(STILL_TRIES):
            ctx.ui.prompt("fingers.keep_still")
            pauses = ctx.pauses
            port.begin_glove_still()
            try:
                ctx.wait(STILL_S)
            except BaseException:
                port.cancel_glove_still()
                raise
            if ctx.pauses != pauses:
                port.cancel_glove_still()
                continue
            try:
                port.end_glove_still(reference=True)
                return
            except ValueError:
                fault = port.glove_fault()
                if fault is not None:
                    raise GloveLost(fault) from None
            ctx.ui.prompt("fingers.not_still")
            ctx.wait(2.0)
        reason = "the hand did not keep still for the reference pose"
        detail = {"hand": side, "protocol": self.name, "tries": STILL_TRIES}
        raise ProtocolStop(Decision(DecisionKind.NOT_STILL, Scope.PROTOCOL, reason, detail))

    def _tremor(
        self, ctx: SessionContext, port: GlovePort, side: str, primed: bool, index: int
    ) -> Trial:
        """The hand held up: the tremor band of the back-of-hand gyro over the window."""
        t0, pauses = ctx.clock.now(), ctx.pauses
        timed(ctx, "fingers.raise", TREMOR_HOLD_S)
        est = _read(port, lambda: port.tremor(TREMOR_WINDOW_S, "back"))
        expected = TREMOR_WINDOW_S * float(port.glove.odr_hz)
        quality = _paused(ctx, pauses)
        if est.samples < 0.8 * expected:
            quality += ("glove_gaps",)
        return Trial(
            protocol=self.name,
            trial_index=index,
            hand=side,
            stimulus={
                "task": "tremor",
                "window_s": TREMOR_WINDOW_S,
                "band_hz": list(TREMOR_BAND_HZ),
                "primed": primed,
            },
            response={
                "peak_hz": _round(est.peak_hz, 3),
                "band_power_dps2": _round(est.band_power_dps2, 4),
                "band_rms_dps": _round(est.band_rms_dps, 4),
                "total_rms_dps": _round(est.total_rms_dps, 4),
                "samples": int(est.samples),
            },
            reaction_time_s=None,
            contact_force_n=None,
            t_start_s=round(t0, 4),
            t_end_s=round(ctx.clock.now(), 4),
            quality=quality,
        )

    def _hold(
        self,
        ctx: SessionContext,
        port: GlovePort,
        side: str,
        primed: bool,
        index: int,
        finger: str,
        direction: str,
        k: int,
    ) -> Trial:
        """One try: the finger to its furthest flexion or extension, held; the held angle."""
        t0, pauses = ctx.clock.now(), ctx.pauses
        timed(ctx, _SCREEN[direction], self.hold_s, finger=finger)
        t, angle = _read(port, lambda: port.flexion_deg(finger, self.hold_s))
        t_end = ctx.clock.now()
        ctx.ui.prompt("fingers.relax")
        ctx.wait(RELAX_S)
        t, angle = np.asarray(t, dtype=float), np.asarray(angle, dtype=float)
        value = held(t, angle, t_end - self.hold_s * HELD_FRACTION)
        gap = float(np.max(np.diff(t))) if len(t) > 1 else math.inf
        expected = self.hold_s * float(port.glove.odr_hz)
        quality = _paused(ctx, pauses)
        if value is None or gap > MAX_GAP_S or len(t) < 0.8 * expected:
            quality += ("glove_gaps",)
        if direction == "flexion" and value is not None and value < NO_MOVEMENT_DEG:
            quality += ("no_movement",)
        return Trial(
            protocol=self.name,
            trial_index=index,
            hand=side,
            stimulus={
                "task": "hold",
                "finger": finger,
                "direction": direction,
                "try": k + 1,
                "hold_s": self.hold_s,
                "primed": primed,
            },
            response={
                "angle_deg": _round(value, 2),
                "furthest_deg": _round(extreme(angle, direction), 2),
                "samples": len(t),
                "max_gap_s": _round(gap, 4),
            },
            reaction_time_s=None,
            contact_force_n=None,
            t_start_s=round(t0, 4),
            t_end_s=round(t_end, 4),
            quality=quality,
        )

    def _glove_lost(self, ctx: SessionContext, side: str, fault: SensorFault) -> None:
        """The glove's fault ends this protocol only: its error screen, then the stop."""
        code = f"E-GLOVE-{fault.errno or 0:03d}"
        ctx.ui.error("error.glove", code)
        ctx.wait(5.0)
        reason = str(fault)  # the runner names the protocol
        detail = {"hand": side, "protocol": self.name, "part": fault.part, "errno": fault.errno}
        raise ProtocolStop(Decision(DecisionKind.GLOVE_FAULT, Scope.PROTOCOL, reason, detail))

    # -- metrics ---------------------------------------------------------------------------

    def task_metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        return finger_metrics(trials)


def _watching(inner: Callable[[], None] | None, port: GlovePort) -> Callable[[], None]:
    """The session's fault check, and the glove's faults (which the session's ignores)."""

    def monitor() -> None:
        if inner is not None:
            inner()
        fault = port.glove_fault()
        if fault is not None:
            raise GloveLost(fault)

    return monitor


def _read(port: GlovePort, fn: Callable[[], T]) -> T:
    """``fn()``, a glove read; its fault (or the glove's) as :class:`GloveLost`."""
    try:
        return fn()
    except (ImuFault, GloveUnplugged) as exc:
        raise GloveLost(port.glove_fault() or exc) from exc


def _paused(ctx: SessionContext, pauses: int) -> tuple[str, ...]:
    return ("paused",) if ctx.pauses != pauses else ()


def _round(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)
