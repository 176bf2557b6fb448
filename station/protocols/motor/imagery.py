"""Guided motor imagery and action observation (``motor_imagery``; docs/motor.md).

A script (``grip``, ``fingers``, ``reach``) of timed steps on the LCD: "Imagine closing your
hand slowly..." (imagery, no movement) and "Watch your other hand..." (action observation:
the uninvolved hand moves, the patient watches it), round after round until the plan's
``minutes`` are practised; between rounds OK goes on and Back stops. On a day pain or
fatigue limits physical practice (check-in pain at or above :data:`LOW_EFFORT_PAIN_NRS`, a
fatigue stop earlier in the session) or when the plan says so (``low_effort``), the patient
is offered the short, imagery-only version, kindly. No force, no vibration.

Every step is journalled as it ends (the practice time of a session cut short is kept);
the metrics are the practice time, the steps completed and whether it was the low-effort
version.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from station.catalog import MOTOR_IMAGERY
from station.journal import Trial
from station.kinds import DecisionKind
from station.protocols.base import MetricsContext, ProtocolStop, SessionContext
from station.protocols.metrics import metric
from station.protocols.motor.common import MotorProtocol
from station.protocols.motor.guided import answered, declined_here, timed

#: Check-in pain (NRS 0-10) from which the short imagery-only version is offered: pain that
#: limits physical practice, below the pain stop rule (5 by default, CLINICAL.md §6.4).
LOW_EFFORT_PAIN_NRS = 3
#: The short version practises this fraction of the plan's minutes.
LOW_EFFORT_FRACTION = 0.5


class Step(NamedTuple):
    """One timed screen of a script; ``observation``: the other hand moves, watched."""

    key: str
    seconds: float
    observation: bool = False


#: The scripts: a slow movement imagined in its phases, then watched on the other hand.
SCRIPTS: dict[str, tuple[Step, ...]] = {
    "grip": (
        Step("imagery.grip_close", 5.0),
        Step("imagery.grip_hold", 3.0),
        Step("imagery.grip_open", 5.0),
        Step("imagery.grip_watch", 8.0, observation=True),
    ),
    "fingers": (
        Step("imagery.fingers_touch", 8.0),
        Step("imagery.fingers_spread", 5.0),
        Step("imagery.fingers_watch", 8.0, observation=True),
    ),
    "reach": (
        Step("imagery.reach_out", 5.0),
        Step("imagery.reach_grasp", 4.0),
        Step("imagery.reach_back", 5.0),
        Step("imagery.reach_watch", 8.0, observation=True),
    ),
}


class MotorImagery(MotorProtocol, spec=MOTOR_IMAGERY):
    """No pads, no motors; reads today's check-in and the session's events."""

    intro_key = "imagery.intro"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.script: str = self.params["script"]
        self.minutes: float = float(self.params["minutes"])

    def pads_used(self) -> tuple[int, ...]:
        return ()

    def run(self, ctx: SessionContext) -> None:
        side = ctx.hands[self.role]
        ask = functools.partial(ctx.ui.ask_ok, self.intro_key, ctx.no_response_s)
        if not answered(ctx, ask):
            raise ProtocolStop(declined_here(self.name, side))
        self.practise(ctx, side, False)

    def low_effort_reason(self, ctx: SessionContext) -> str | None:
        """Why today calls for the short version: ``plan``, ``pain`` or ``fatigue``."""
        if self.params["low_effort"] == "always":
            return "plan"
        pain = ctx.journal.session(ctx.session_id)["checkin"].get("pain")
        if pain is not None and pain >= LOW_EFFORT_PAIN_NRS:
            return "pain"
        if any(e["kind"] == DecisionKind.FATIGUE for e in ctx.journal.events(ctx.session_id)):
            return "fatigue"
        return None

    def practise(self, ctx: SessionContext, side: str, primed: bool) -> None:
        reason = self.low_effort_reason(ctx)
        if reason is not None:
            ask = functools.partial(ctx.ui.ask_ok, "imagery.easy_day", ctx.no_response_s)
            if not answered(ctx, ask):
                raise ProtocolStop(declined_here(self.name, side))
        low = reason is not None
        steps = [s for s in SCRIPTS[self.script] if not (low and s.observation)]
        goal_s = self.minutes * 60.0 * (LOW_EFFORT_FRACTION if low else 1.0)
        other = ctx.hands["uninvolved" if self.role == "involved" else "involved"]
        done_s, index, rnd = 0.0, 0, 0
        while done_s < goal_s:
            rnd += 1
            for step in steps:
                t0, pauses = ctx.clock.now(), ctx.pauses
                timed(ctx, step.key, step.seconds, other=other)
                ctx.record_trial(
                    Trial(
                        protocol=self.name,
                        trial_index=index,
                        hand=side,
                        stimulus={
                            "task": "step",
                            "script": self.script,
                            "step": step.key,
                            "round": rnd,
                            "observation": step.observation,
                            "low_effort": low,
                            "low_effort_reason": reason,
                            "primed": primed,
                        },
                        response={"practice_s": step.seconds},
                        reaction_time_s=None,
                        contact_force_n=None,
                        t_start_s=round(t0, 4),
                        t_end_s=round(ctx.clock.now(), 4),
                        quality=("paused",) if ctx.pauses != pauses else (),
                    )
                )
                index += 1
                done_s += step.seconds
            if done_s >= goal_s:
                break
            ask = functools.partial(ctx.ui.ask_ok, "imagery.next", ctx.no_response_s, done=rnd)
            if not answered(ctx, ask):
                break  # Back: the patient stops here; what was practised counts
        self.block_done(ctx, "imagery.result", minutes=f"{done_s / 60.0:.1f}")

    def task_metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        return imagery_metrics(trials)


def imagery_metrics(trials: list[Trial]) -> dict[str, Any]:
    """Practice minutes (step time on the station's clock), steps completed, rounds begun,
    and whether it was the low-effort version (and why), from the journalled steps."""
    steps = [t for t in trials if t.stimulus.get("task") == "step"]
    if not steps:
        return {}
    seconds = sum(float(t.response["practice_s"]) for t in steps)
    low = [t for t in steps if t.stimulus.get("low_effort")]
    reason = low[0].stimulus.get("low_effort_reason") if low else None
    return {
        "practice_minutes": metric(seconds / 60.0, "min", 0.0, script=steps[0].stimulus["script"]),
        "steps_completed": metric(len(steps), "count", 0.0),
        "rounds": metric(max(t.stimulus["round"] for t in steps), "count", 0.0),
        "observation_steps": metric(
            sum(1 for t in steps if t.stimulus.get("observation")), "count", 0.0
        ),
        "low_effort": metric(1.0 if low else 0.0, "flag", 0.0, reason=reason),
    }
