"""A sensory protocol's results from its journal: per block the threshold with its
intervals in the task's and in physical units, % correct, catch trials, the lapse rate,
contact-force compliance and, for an assessment, the real-change verdict against the last
ones; per protocol the vibration dose. Nothing here needs the session that ran: a block
is replayed from its journalled procedure spec and scored trials
(:mod:`station.protocols.sensory.procedure`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sensors.dose import a8_ms2
from station.journal import Trial
from station.protocols.base import MetricsContext
from station.protocols.metrics import metric
from station.protocols.sensory import procedure as proc_mod

#: Quality flags of a trial that is journalled but not scored (repeated).
NOT_SCORED = frozenset({"contact_light", "contact_hard", "paused", "vibration_cap"})


class Reporter(Protocol):
    """What the results need of a protocol: its name and scale, and its units."""

    @property
    def name(self) -> str: ...
    @property
    def scale(self) -> str: ...
    @property
    def uses_vibration(self) -> bool: ...

    def reported(self, x: float, spec: dict[str, Any]) -> tuple[float, str]: ...
    def physical(self, x: float, spec: dict[str, Any]) -> tuple[float, str]: ...


def metrics(proto: Reporter, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
    """A sensory protocol's summary metrics, from its journalled trials alone."""
    out: dict[str, Any] = {}
    # read from the journal only when an assessment block needs its past
    history = functools.cache(functools.partial(_history, ctx, proto.name))
    for key, block_trials in _by_block(trials).items():
        out.update(_block_metrics(proto, key, block_trials, history))
    if proto.uses_vibration:
        # the dose as the daily cap counts it (sensors.dose), trial by trial
        vib_s = sum(float(t.stimulus.get("vibration_s") or 0.0) for t in trials)
        energy = sum(float(t.stimulus.get("dose_energy_m2s3") or 0.0) for t in trials)
        out["vibration_time"] = metric(vib_s, "s")
        out["vibration_a8"] = metric(a8_ms2(energy), "m/s2", formula="ISO 5349-1 A(8)")
    return out


def _block_metrics(
    proto: Reporter,
    key: str,
    trials: list[Trial],
    history: Callable[[], list[tuple[str, str, list[Trial]]]],
) -> dict[str, Any]:
    first = trials[0]
    spec = first.stimulus.get("procedure")
    scored = [t for t in trials if not NOT_SCORED & set(t.quality)]
    presented = [t for t in trials if "vibration_cap" not in t.quality]
    in_band = [t for t in presented if not {"contact_light", "contact_hard"} & set(t.quality)]
    out: dict[str, Any] = {
        f"{key}_trials": metric(len(scored), "count"),
        f"{key}_contact_compliance": metric(
            100.0 * len(in_band) / len(presented) if presented else None,
            "%",
            repeats=len(presented) - len(in_band),
        ),
    }
    if not isinstance(spec, dict):
        out[f"{key}_threshold"] = metric(None, proto.scale, note="procedure not journalled")
        return out
    done = replay_block(spec, scored)
    out[f"{key}_percent_correct"] = metric(
        100.0 * done.correct / done.trials if done.trials else None, "%", n=done.trials
    )
    if spec["kind"] == proc_mod.QUEST_PLUS:
        out[f"{key}_catch_correct"] = metric(
            100.0 * done.catch_correct / done.catch_trials if done.catch_trials else None,
            "%",
            n=done.catch_trials,
        )
    est = done.estimate
    if est is None:
        out[f"{key}_threshold"] = metric(None, proto.scale, note="too few trials")
        return out
    value, unit = proto.reported(est.threshold, spec)
    lo68, hi68 = (proto.reported(v, spec)[0] for v in est.ci68)
    lo95, hi95 = (proto.reported(v, spec)[0] for v in est.ci95)
    phys = [proto.physical(v, spec) for v in (est.threshold, *est.ci95)]
    entry = metric(
        value,
        unit,
        (hi68 - lo68) / 2,
        ci68=[round(lo68, 4), round(hi68, 4)],
        ci95=[round(lo95, 4), round(hi95, 4)],
        interval=_INTERVALS[spec["kind"]],
        physical={
            "value": round(phys[0][0], 4),
            "unit": phys[0][1],
            "ci95": [round(phys[1][0], 4), round(phys[2][0], 4)],
        },
        site=first.stimulus.get("site"),
        hand=first.hand,
        mode=first.stimulus.get("mode"),
        procedure=spec["kind"],
    )
    if spec["kind"] == proc_mod.QUEST_PLUS:
        change = _real_change(proto, key, first.hand, (value, lo95, hi95), spec, history)
        if change is not None:
            entry["real_change"] = change
        out[f"{key}_lapse"] = metric(est.lapse, "1", _lapse_sd(done.procedure))
    out[f"{key}_threshold"] = entry
    return out


def _real_change(
    proto: Reporter,
    key: str,
    hand: str | None,
    now: tuple[float, float, float],
    spec: dict[str, Any],
    history: Callable[[], list[tuple[str, str, list[Trial]]]],
) -> dict[str, Any] | None:
    """Compared with the last assessments of this block and hand: a real change when the
    95 % intervals do not overlap, or when the last two both lie beyond the 95 %
    interval of the one before them, on the same side."""
    past = []
    for uid, started, trials in history():
        got = last_assessment(trials, key, hand)
        if got is not None and got[1].estimate is not None:
            spec_then = got[0]
            e = got[1].estimate
            ci = tuple(proto.reported(v, spec_then)[0] for v in (e.threshold, *e.ci95))
            past.append((uid, started, ci))
        if len(past) == 2:
            break
    if not past:
        return None
    uid, started, (v1, lo1, hi1) = past[0]
    value, lo, hi = now
    direction = "better" if value < v1 else "worse" if value > v1 else None
    out: dict[str, Any] = {
        "previous_session": uid,
        "previous_started_at": started,
        "previous_value": round(v1, 4),
        "previous_ci95": [round(lo1, 4), round(hi1, 4)],
    }
    if hi < lo1 or lo > hi1:
        return {**out, "flag": True, "direction": direction,
                "rule": "95 % intervals do not overlap"}  # fmt: skip
    if len(past) == 2:
        _, _, (_, lo0, hi0) = past[1]
        if (value < lo0 and v1 < lo0) or (value > hi0 and v1 > hi0):
            return {**out, "flag": True, "direction": direction,
                    "rule": "change held across two sessions"}  # fmt: skip
    return {**out, "flag": False, "direction": None, "rule": "intervals overlap"}


_INTERVALS = {
    proc_mod.QUEST_PLUS: "posterior credible interval",
    proc_mod.WEIGHTED_UP_DOWN: "likelihood interval over all trials",
}


def replay_block(spec: dict[str, Any], scored: Sequence[Trial]) -> proc_mod.Replayed:
    """A block's procedure after its scored trials (journal order)."""
    outcomes = [
        (float(t.stimulus["x"]), bool(t.response.get("correct")), bool(t.stimulus.get("catch")))
        for t in scored
    ]
    return proc_mod.replay(spec, outcomes)


def last_block(
    trials: Sequence[Trial], key: str, hand: str | None, mode: str | None = None
) -> tuple[dict[str, Any], proc_mod.Replayed] | None:
    """A session's last block ``key`` for ``hand`` (of ``mode``, or either), replayed from
    the trial that journalled its spec on: (spec, replayed); None when there is none."""
    mine = [
        t
        for t in trials
        if t.stimulus.get("block") == key
        and t.hand == hand
        and mode in (None, t.stimulus.get("mode"))
    ]
    starts = [t for t in mine if isinstance(t.stimulus.get("procedure"), dict)]
    if not starts:
        return None
    first = starts[-1]
    spec = first.stimulus["procedure"]
    block = [t for t in mine if t.trial_index >= first.trial_index]
    try:
        return spec, replay_block(spec, [t for t in block if not NOT_SCORED & set(t.quality)])
    except (KeyError, TypeError, ValueError):
        return None  # an older or damaged record: nothing to build on


def last_assessment(
    trials: Sequence[Trial], key: str, hand: str | None
) -> tuple[dict[str, Any], proc_mod.Replayed] | None:
    """A session's assessment block ``key`` for ``hand``, replayed: (spec, replayed)."""
    return last_block(trials, key, hand, "assessment")


def _by_block(trials: Sequence[Trial]) -> dict[str, list[Trial]]:
    out: dict[str, list[Trial]] = {}
    for t in trials:
        key = t.stimulus.get("block")
        if isinstance(key, str):
            out.setdefault(key, []).append(t)
    return out


def _history(ctx: MetricsContext, protocol: str) -> list[tuple[str, str, list[Trial]]]:
    return ctx.history(protocol) if ctx.history is not None else []


def _lapse_sd(procedure: Any) -> float | None:
    try:
        lapses = procedure.grid.lapses
        p = procedure.marginal(2)
    except AttributeError:
        return None
    mean = float(p @ lapses)
    return math.sqrt(max(0.0, float(p @ (lapses - mean) ** 2)))


__all__ = [
    "NOT_SCORED",
    "Reporter",
    "last_assessment",
    "last_block",
    "metrics",
    "replay_block",
]
