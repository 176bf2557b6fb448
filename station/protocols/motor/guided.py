"""Shared pieces of the guided motor tasks that use no pad (finger_rom, motor_imagery):
timed screens, answers and declines that end only the task."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from station.kinds import DecisionKind, Scope
from station.protocols.base import SessionContext
from station.safety import Decision

#: A Back that answered a question is let go within this time (longer: a pause).
LET_GO_S = 1.0


def timed(ctx: SessionContext, key: str, seconds: float, **params: Any) -> None:
    """``key`` on the LCD for ``seconds`` with a bar of the time gone, ticking each second."""
    ticks = max(1, math.ceil(seconds))
    for done in range(ticks):
        ctx.ui.progress(key, done, ticks, **params)
        ctx.wait(seconds / ticks)


def answered(ctx: SessionContext, ask: Callable[[], bool | None]) -> bool:
    """``ctx.answer(ask)``; after a Back, waits (up to :data:`LET_GO_S`) for the button to
    come up, so that the press that answered is not taken for a pause (Back held) at the
    next check."""
    ok = bool(ctx.answer(ask))
    if not ok:
        end = ctx.clock.now() + LET_GO_S
        while ctx.ui.pause_requested() and ctx.clock.now() < end:
            ctx.safety.heartbeat()
            ctx.safety.check_stop()
            ctx.clock.sleep(0.02)
    return ok


def declined_here(name: str, side: str) -> Decision:
    """Back (or nobody) at a glove or imagery task: only that task ends, not force work."""
    reason = f"{side} hand declined or no answer"  # the runner names the protocol
    return Decision(DecisionKind.DECLINED, Scope.PROTOCOL, reason, {"hand": side, "protocol": name})
