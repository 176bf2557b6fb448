"""The named values a session journals and reports: session states, stop-rule decisions,
safety events and their codes.

Each is a ``StrEnum``, so the journal, the summary and the MQTT messages carry the same
strings as before (``docs/mqtt-contract.md``), while the code names them instead of
spelling them. A leaf module: the safety layer, the protocols and the runner all use it.
"""

from __future__ import annotations

from enum import StrEnum


class SessionState(StrEnum):
    """A session's state in the journal and in its summary; ``running`` only while open."""

    RUNNING = "running"
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    STOPPED = "stopped"


class Scope(StrEnum):
    """What a stop rule stops: the whole session, force work, vibration, or one protocol."""

    SESSION = "session"
    FORCE = "force"
    VIBRATION = "vibration"
    #: Only the protocol that met it (a glove task declined, the glove's own fault).
    PROTOCOL = "protocol"


class DecisionKind(StrEnum):
    """A stop rule that fired (``station.safety.Decision``); journalled as the event kind."""

    CHECKIN_WOUND = "checkin_wound"
    CHECKIN_PAIN = "checkin_pain"
    CHECKIN_NUMBNESS = "checkin_numbness"
    PAIN_LIMIT = "pain_limit"
    PAIN_RISE = "pain_rise"
    FATIGUE = "fatigue"
    NO_EFFORT = "no_effort"
    DECLINED = "declined"
    NO_FORCE_PADS = "no_force_pads"
    UNCALIBRATED = "uncalibrated"
    PAD_GAPS = "pad_gaps"
    NO_MOTORS = "no_motors"
    NO_THRESHOLD = "no_threshold"
    PARESTHESIA = "paresthesia"
    VIBRATION_DOSE = "vibration_dose"
    CONTACT_FORCE = "contact_force"
    GLOVE_FAULT = "glove_fault"
    NOT_STILL = "not_still"


#: Decisions that are the station's problem, not the patient's doing nor a stop rule's:
#: the protocol could not run, and the session it cuts short is ``incomplete``.
STATION_PROBLEMS = frozenset(
    {
        DecisionKind.NO_FORCE_PADS,
        DecisionKind.UNCALIBRATED,
        DecisionKind.PAD_GAPS,
        DecisionKind.NO_MOTORS,
        DecisionKind.GLOVE_FAULT,
    }
)
#: The pain stop rules after the check-in (the summary names the one that fired).
PAIN_STOP_RULES = (DecisionKind.PAIN_RISE, DecisionKind.PAIN_LIMIT)


class EventKind(StrEnum):
    """A safety event that is not a stop-rule decision."""

    STOP = "stop"
    TIME = "time"
    SIGNAL = "signal"
    NO_RESPONSE = "no_response"
    FAULT = "fault"
    INTERRUPTED = "interrupted"
    MAXIMAL_NOT_ALLOWED = "maximal_not_allowed"
    PAUSED = "paused"
    RESUMED = "resumed"
    WATCHDOG = "watchdog"


class Code(StrEnum):
    """The technician code journalled with a safety event (``S-``: session, ``E-``: error)."""

    STOP = "S-STOP"
    TIME = "S-TIME"
    SIGNAL = "S-SIGNAL"
    NO_RESPONSE = "S-NORESPONSE"
    PAIN = "S-PAIN"
    CHECKIN = "S-CHECKIN"
    GATE = "S-GATE"
    PROTOCOL = "S-PROTO"
    FATIGUE = "S-FATIGUE"
    PARESTHESIA = "S-TINGLE"
    PAUSE = "S-PAUSE"
    RESUME = "S-RESUME"
    RESTART = "S-RESTART"
    WATCHDOG = "E-WDG-01"


__all__ = [
    "PAIN_STOP_RULES",
    "STATION_PROBLEMS",
    "Code",
    "DecisionKind",
    "EventKind",
    "Scope",
    "SessionState",
]
