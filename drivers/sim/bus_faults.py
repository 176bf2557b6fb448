"""Faults a simulated bus injects on request: NACKs, the n-th transaction, seeded random.

:class:`FaultPlan` holds the faults armed on one :class:`~drivers.sim.bus.SimI2CBus` and
decides, transaction by transaction, which errno (if any) the transaction raises. The bus
asks it only while a fault is armed (its machine.I2C shortcut is off meanwhile).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Fault:
    """One armed fault: fires ``errno`` on the transactions it matches."""

    errno: int
    address: int | None = None  # None: any transaction
    nth: int | None = None  # fire on this transaction number (1-based from arming)
    probability: float = 0.0
    rng: random.Random | None = None
    count: int = 0
    remaining: int | None = None  # None: unlimited
    fired: int = 0


class FaultPlan:
    """The faults armed on a bus, in arming order (the first that fires wins)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def __repr__(self) -> str:
        return f"FaultPlan({len(self._faults)} armed, {self.fired()} fired)"

    def __bool__(self) -> bool:
        return bool(self._faults)

    def nack(self, errno: int, address: int, times: int | None = None) -> None:
        """``address`` fails with ``errno`` on every transaction, or ``times`` times."""
        self._faults.append(Fault(errno, address=address, remaining=times))

    def fail_nth(self, n: int, errno: int, address: int | None = None) -> None:
        """The ``n``-th transaction from now (1 = the next) fails with ``errno``."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self._faults.append(Fault(errno, address=address, nth=n, remaining=1))

    def fail_randomly(
        self, probability: float, errno: int, seed: int, address: int | None = None
    ) -> None:
        """Each transaction fails with ``errno`` with ``probability`` (seeded)."""
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be in 0..1, got {probability}")
        self._faults.append(
            Fault(errno, address=address, probability=probability, rng=random.Random(seed))
        )

    def clear(self) -> None:
        self._faults.clear()

    def fired(self) -> int:
        """Faults fired so far, over every fault armed."""
        return sum(f.fired for f in self._faults)

    def injected(self, address: int) -> int | None:
        """The errno a transaction starting at ``address`` raises, or None (counted)."""
        for fault in self._faults:
            if fault.remaining == 0:
                continue
            if fault.address is not None and fault.address != address:
                continue
            fault.count += 1
            fire = False
            if fault.nth is not None:
                fire = fault.count == fault.nth
            elif fault.rng is not None:
                fire = fault.rng.random() < fault.probability
            else:
                fire = True
            if fire:
                fault.fired += 1
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault.errno
        return None
