"""Sub-maximal targets: under the caps always, and never under the pad's trusted range."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from station.plan import Caps
from station.protocols.motor.common import MIN_TARGET_N
from station.protocols.motor.steadiness import ForceSteadiness


def caps(max_force_n: float = 15.0, pct_other: float | None = None) -> Caps:
    return Caps(2.0, 20, max_force_n, 20, 20, 5, 2, force_ceiling_pct_other_hand=pct_other)


@pytest.mark.parametrize(
    ("wanted", "c", "other", "target"),
    [
        (4.0, caps(), None, 4.0),  # inside everything: as asked
        (0.23, caps(), None, MIN_TARGET_N),  # 5 % of a weak squeeze: raised to 0.5 N
        (20.0, caps(max_force_n=6.0), None, 6.0),  # the force cap
        (5.0, caps(pct_other=50.0), 8.0, 4.0),  # 50 % of the other hand's 8 N
        # the clinician's ceiling under the floor: the ceiling wins, never the floor
        (0.2, caps(pct_other=5.0), 6.0, 0.3),
    ],
)
def test_motor_targets_floor_and_caps(
    wanted: float, c: Caps, other: float | None, target: float
) -> None:
    proto = ForceSteadiness({})
    ctx = SimpleNamespace(caps=c)
    assert proto.capped_target(ctx, wanted, other) == pytest.approx(target)  # type: ignore[arg-type]
