"""Priming: a short vibration block on the working hand's sites just before a motor task,
when a plan item asks for it (``priming_s``, ``priming_sites``), through the haptics caps
and counted in the day's dose (``reference/CLINICAL.md`` §6.1; docs/motor.md).

Every block is journalled the moment it ends, as a trial of the task with
``stimulus.block == "priming"`` and index -1 (what played, and why not in full), so the
app stores the dose then too; :func:`is_priming` tells it from the task's own trials.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

from sensors.haptics import Stimulus, VibrationCapReached
from station.journal import Trial
from station.protocols.base import SessionContext
from station.protocols.metrics import metric
from station.safety import SessionStop

log = logging.getLogger(__name__)

DOSE_USED_UP = "daily vibration dose used up"


def prime(
    ctx: SessionContext,
    protocol: str,
    side: str,
    priming_s: float,
    priming_sites: Sequence[int],
    amplitude_db: float,
) -> bool:
    """Play ``priming_s`` of vibration over ``priming_sites`` in turn at ``amplitude_db``
    (re each motor's reference level); whether it played in full.

    No vibration today (a stop rule, no calibrated motor under the sites, the daily dose
    used up) plays nothing and tells the patient so; Back at the placing screen declines
    it; a pause or the dose running out cuts it short. The motors are off afterwards,
    whatever ended it; Stop or a fault mid-block is journalled, then raised as it was."""
    if priming_s <= 0:
        return False
    haptics = ctx.haptics
    sites = [] if haptics is None else [s for s in priming_sites if s in haptics.curves]
    why = None
    if not ctx.vibration_allowed:
        why = "no vibration today (a stop rule)"
    elif haptics is None or not sites:
        why = "no calibrated motor under the priming sites"
    elif haptics.remaining_s() <= 0:
        why = DOSE_USED_UP
    block = functools.partial(_journal, ctx, protocol, side, priming_s, sites, amplitude_db)
    if why is not None:
        block(0.0, ctx.clock.now(), why)
        ctx.ui.prompt("motor.priming_skipped")
        ctx.wait(2.5)
        return False
    ask = functools.partial(ctx.ui.ask_ok, "motor.priming_place", ctx.no_response_s,
                            pad=sites[0] + 1)  # fmt: skip
    if not ctx.answer(ask):
        block(0.0, ctx.clock.now(), "declined")
        return False
    ctx.ui.prompt("motor.priming")
    each = priming_s / len(sites)
    t0 = ctx.clock.now()
    dose0 = haptics.ledger.vibration_s_today()
    pauses = ctx.pauses
    try:
        for site in sites:
            result = haptics.play(
                site,
                Stimulus(each, amplitude_db=amplitude_db, ramp_s=min(0.05, each / 2)),
                until=ctx.checked,
            )
            if result.shortened:
                why = DOSE_USED_UP
                break
            if result.stopped_early:
                why = "paused" if ctx.pauses != pauses else "stopped"
                break
    except VibrationCapReached:
        why = DOSE_USED_UP
    except (Exception, SessionStop):
        # Stop, a fault: the motors are off (play stops them, and the finally below);
        # journal what played, best effort, and let it end the session as it would.
        try:
            block(haptics.ledger.vibration_s_today() - dose0, t0, "stopped")
        except Exception:
            log.exception("could not journal the priming block cut short")
        raise
    finally:
        haptics.stop_all()
    # What the dose ledger counted is what played (a block cut short included).
    block(haptics.ledger.vibration_s_today() - dose0, t0, why)
    return why is None


def is_priming(trial: Trial) -> bool:
    """Whether ``trial`` is a priming block rather than one of the task's own trials: leave
    it out of a task's figures."""
    return trial.stimulus.get("block") == "priming"


def priming_metric(blocks: Sequence[Trial]) -> dict[str, Any]:
    """The session's priming of one task: seconds played (as the dose ledger counted them,
    in drive steps of 10 ms), blocks run in full, and why the others were not."""
    played = sum(float(t.response.get("played_s") or 0.0) for t in blocks)
    why = sorted({t.response["not_primed"] for t in blocks if t.response.get("not_primed")})
    primed = sum(1 for t in blocks if t.response.get("primed"))
    return metric(
        played, "s", 0.01 * len(blocks), blocks=len(blocks), primed=primed, not_primed=why
    )


def _journal(
    ctx: SessionContext,
    protocol: str,
    side: str,
    priming_s: float,
    sites: list[int],
    amplitude_db: float,
    played_s: float,
    t0: float,
    why: str | None,
) -> None:
    ctx.record_trial(
        Trial(
            protocol=protocol,
            trial_index=-1,
            hand=side,
            stimulus={
                "block": "priming",
                "sites": sites,
                "priming_s": priming_s,
                "amplitude_db": amplitude_db,
            },
            response={"played_s": round(played_s, 3), "primed": why is None, "not_primed": why},
            reaction_time_s=None,
            contact_force_n=None,
            t_start_s=round(t0, 4),
            t_end_s=round(ctx.clock.now(), 4),
            quality=() if why is None else ("not_primed",),
        )
    )
