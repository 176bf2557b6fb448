"""The base of the virtual patient's motor acts (:mod:`station.sim.motor_acts`): a module of
its own, so that the acts of each group, in their own modules, subclass it without an
import cycle through the registry (``motor_acts.ACTS``)."""

from __future__ import annotations

from typing import Any, ClassVar


class Act:
    """One kind of motor act; subclasses set :attr:`words` or override :meth:`claims`."""

    #: The act claims a screen whose words contain all of these.
    words: ClassVar[tuple[str, ...]] = ()

    def __init__(self, patient: Any) -> None:
        #: The :class:`~station.sim.patient.VirtualPatient` whose hands act (its truth
        #: ``p.a``, clock, pads, ``squeeze_to``/``release``, seeded ``rng``, ``log``).
        self.p = patient
        self.active = False

    def claims(self, text: str) -> bool:
        return bool(self.words) and all(w in text for w in self.words)

    def start(self, text: str) -> None:
        """The patient has read ``text`` (a screen this act claims) and reacts."""
        self.active = True

    def end(self) -> None:
        """A screen this act does not claim replaced its screen."""
        self.active = False
