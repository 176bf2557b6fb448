"""The protocols a plan may name: each one's parameters and the gates it needs.

The one list of what this software version runs. The plan checks a schedule against it
(:mod:`station.plan`); each protocol class takes its name, params and gates from its entry,
and :data:`station.protocols.PROTOCOLS` maps every entry to the class that runs it. A leaf
module, so that the plan, which the protocols build on, checks params without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from station.protocol_params import ChoicesParam, IntParam, Param


@dataclass(frozen=True)
class ProtocolSpec:
    """What a plan can say about a protocol, and what the session must allow it."""

    name: str
    #: The plan params it takes; a plan naming any other is refused.
    params: Mapping[str, Param]
    #: Needs the plan's ``gates.maximal_tests`` (maximal grip, RFD, fatigue).
    maximal: bool = False
    #: Stopped by a rule that stops force work; skipped on a day without vibration.
    uses_force: bool = False
    uses_vibration: bool = False


MAX_GRIP = ProtocolSpec(
    "max_grip",
    {
        "hands": ChoicesParam(("involved", "uninvolved"), default=("involved", "uninvolved")),
        "trials_per_hand": IntParam(1, 6, default=3),
        "pad": IntParam(0, 15, default=0),
    },
    maximal=True,
    uses_force=True,
)

#: Every protocol this software version runs, by plan name.
CATALOG: Mapping[str, ProtocolSpec] = {spec.name: spec for spec in (MAX_GRIP,)}


__all__ = ["CATALOG", "MAX_GRIP", "ProtocolSpec"]
