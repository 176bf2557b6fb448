"""How a session ends: its journal state, the reason, and the last screen the patient sees.

The runner decides when a session ends; this module says what each kind of end is called
(``docs/mqtt-contract.md``: ``complete``, ``stopped``, ``incomplete``), which safety event
journals it, and which screen says it to the patient.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from sensors.faults import GloveUnplugged, ImuFault, MotorFault, PadFault
from station.safety import Decision


@dataclass(frozen=True)
class Ending:
    """How a session ended: journal state, reason, and the message key of its last screen
    (None: the error screen already shown stays)."""

    state: str
    reason: str
    goodbye: str | None


@dataclass
class Progress:
    """The protocols a rule ended or held back so far: (state, reason) of each."""

    cut_short: list[tuple[str, str]] = field(default_factory=list)

    def reasons(self) -> list[str]:
        return [r for _, r in self.cut_short]

    def state(self) -> str:
        return "incomplete" if any(st == "incomplete" for st, _ in self.cut_short) else "stopped"


#: Journal event kind for each code that ends a session from outside the protocols.
SESSION_STOP_EVENTS = {
    "S-STOP": "stop",
    "S-TIME": "time",
    "S-SIGNAL": "signal",
    "S-NORESPONSE": "no_response",
}
#: The last screen for a stop that has its own words for the patient.
STOP_SCREENS = {"S-PAIN": "session.pain_stop", "S-CHECKIN": "checkin.not_today"}
#: Protocol stops that are the station's problem, not the patient's or a stop rule's.
STATION_PROBLEMS = frozenset({"no_force_pads", "uncalibrated", "pad_gaps"})


def protocol_stop_state(decision: Decision) -> str:
    """``incomplete`` when the station could not run the protocol, else ``stopped``."""
    return "incomplete" if decision.kind in STATION_PROBLEMS else "stopped"


def fault_screen(exc: BaseException) -> tuple[str, str]:
    """The error screen's message key and technician code for a fault."""
    errno = getattr(exc, "errno", None)
    num = f"{errno or 0:03d}"
    if isinstance(exc, PadFault):
        return "error.pads", f"E-PAD-{num}"
    if isinstance(exc, GloveUnplugged | ImuFault):
        return "error.glove", f"E-GLOVE-{num}"
    if isinstance(exc, MotorFault):
        return "error.motors", f"E-MOTOR-{num}"
    if isinstance(exc, OSError):
        return "error.bus", f"E-BUS-{num}"
    if isinstance(exc, sqlite3.Error):
        return "error.storage", "E-DB-01"
    return "error.software", "E-SW-01"
