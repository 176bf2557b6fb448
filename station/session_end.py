"""How a session ends: its journal state, the reason, and the last screen the patient sees.

The runner decides when a session ends; this module says what each kind of end is called
(``docs/mqtt-contract.md``: ``complete``, ``stopped``, ``incomplete``), which safety event
journals it, and which screen says it to the patient (:class:`SessionEnds`).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field

from sensors.faults import GloveUnplugged, ImuFault, MotorFault, PadFault
from station.kinds import STATION_PROBLEMS, Code, EventKind, SessionState
from station.protocols.base import UiPort
from station.safety import Decision, SafetyLayer, SessionStop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ending:
    """How a session ended: journal state, reason, and the message key of its last screen
    (None: the error screen already shown stays)."""

    state: SessionState
    reason: str
    goodbye: str | None


@dataclass(frozen=True)
class CutShort:
    """A protocol a rule ended or held back, and the state that leaves the session in."""

    state: SessionState
    reason: str


@dataclass
class Progress:
    """The protocols a rule ended or held back so far."""

    cut_short: list[CutShort] = field(default_factory=list)

    def add(self, state: SessionState, reason: str) -> None:
        self.cut_short.append(CutShort(state, reason))

    def reasons(self) -> list[str]:
        return [c.reason for c in self.cut_short]

    def state(self) -> SessionState:
        incomplete = any(c.state == SessionState.INCOMPLETE for c in self.cut_short)
        return SessionState.INCOMPLETE if incomplete else SessionState.STOPPED

    def ending(self, first: str, goodbye: str | None, state: SessionState | None = None) -> Ending:
        """``first`` (what ended the session; "" for nothing more), then what rules had
        ended before it, as one reason; ``state`` or this progress's own."""
        reason = "; ".join([first, *self.reasons()] if first else self.reasons())
        return Ending(state or self.state(), reason, goodbye)


@dataclass(frozen=True)
class ErrorScreen:
    """The error screen of a fault: its message key and technician code."""

    key: str
    code: str


#: Journal event kind for each code that ends a session from outside the protocols.
SESSION_STOP_EVENTS = {
    Code.STOP: EventKind.STOP,
    Code.TIME: EventKind.TIME,
    Code.SIGNAL: EventKind.SIGNAL,
    Code.NO_RESPONSE: EventKind.NO_RESPONSE,
}
#: The last screen for a stop that has its own words for the patient.
STOP_SCREENS = {Code.PAIN: "session.pain_stop", Code.CHECKIN: "checkin.not_today"}


def protocol_stop_state(decision: Decision) -> SessionState:
    """``incomplete`` when the station could not run the protocol, else ``stopped``."""
    return SessionState.INCOMPLETE if decision.kind in STATION_PROBLEMS else SessionState.STOPPED


def fault_screen(exc: BaseException) -> ErrorScreen:
    """The error screen's message key and technician code for a fault."""
    errno = getattr(exc, "errno", None)
    num = f"{errno or 0:03d}"
    if isinstance(exc, PadFault):
        return ErrorScreen("error.pads", f"E-PAD-{num}")
    if isinstance(exc, GloveUnplugged | ImuFault):
        return ErrorScreen("error.glove", f"E-GLOVE-{num}")
    if isinstance(exc, MotorFault):
        return ErrorScreen("error.motors", f"E-MOTOR-{num}")
    if isinstance(exc, OSError):
        return ErrorScreen("error.bus", f"E-BUS-{num}")
    if isinstance(exc, sqlite3.Error):
        return ErrorScreen("error.storage", "E-DB-01")
    return ErrorScreen("error.software", "E-SW-01")


class SessionEnds:
    """What ended a session (a stop, a fault, an interrupt) as its :class:`Ending`, with
    the safety event that journals it and the screens that tell the patient."""

    def __init__(self, safety: SafetyLayer, ui: UiPort) -> None:
        self.safety = safety
        self.ui = ui

    def stopped(self, stop: SessionStop, progress: Progress) -> Ending:
        """The stop that ended the session first, then what rules had ended before it."""
        kind = SESSION_STOP_EVENTS.get(stop.code) if stop.code else None
        if kind is not None:
            self.safety.event(kind, {"reason": stop.reason}, stop.code)
        stopped = stop.state == SessionState.STOPPED
        fallback = "session.stopped" if stopped else "session.incomplete"
        goodbye = STOP_SCREENS.get(stop.code, fallback) if stop.code else fallback
        return progress.ending(stop.reason, goodbye, stop.state)

    def fault(self, session_id: int, exc: Exception, progress: Progress) -> Ending:
        """A fault ended the session: motors off, journalled, the error screen stays."""
        screen = fault_screen(exc)
        self.safety.motors_off("fault")
        self.safety.event(EventKind.FAULT, {"error": repr(exc)}, screen.code)
        log.exception("session %s ended by a fault", session_id)
        self._show_error(screen)
        return progress.ending(f"fault: {exc}", None, SessionState.INCOMPLETE)

    def interrupted(self, exc: BaseException, progress: Progress) -> Ending:
        """``KeyboardInterrupt`` (not from a signal the session took) or ``SystemExit``."""
        self.safety.event(EventKind.SIGNAL, {"reason": type(exc).__name__}, Code.SIGNAL)
        first = f"interrupted ({type(exc).__name__})"
        return progress.ending(first, "session.incomplete", SessionState.INCOMPLETE)

    def goodbye(self, key: str | None) -> None:
        """The session's last screen (None: the error screen shown stays)."""
        if key is None:
            return
        try:
            self.ui.prompt(key)
        except Exception:
            log.exception("could not show the end-of-session screen")

    def _show_error(self, screen: ErrorScreen) -> None:
        try:
            self.ui.error(screen.key, screen.code)
        except Exception:
            log.exception("could not show the error screen %s", screen.code)
