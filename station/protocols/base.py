"""The protocol interface and the context a protocol runs in.

A protocol is straight-line code over a :class:`SessionContext`: it prompts through
``ctx.ui``, reads forces through ``ctx.forces``, waits through ``ctx.wait`` (which sends
the watchdog heartbeat, honours the Stop button and the session-length cap, and gives the
simulated world its turn), and journals each trial with ``ctx.record_trial`` the moment it
ends. The runner checks what it needs (:meth:`Protocol.check_ready`), then starts it
(:meth:`Protocol.run`); the patient can pause it at any wait (Back;
:meth:`SessionContext.pause`) and resume with OK; the runner stops it by raising
:class:`~station.safety.SessionStop` from a wait. ``metrics()`` turns the journalled
trials into the summary's metrics, with what it needs to know of the station in a
:class:`MetricsContext`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar
from typing import Protocol as TypingProtocol

from station.catalog import ProtocolSpec
from station.journal import Journal, Trial
from station.kinds import Code, DecisionKind, EventKind, Scope, SessionState
from station.plan import Caps
from station.protocol_params import Param, ParamError, parse_params
from station.safety import Decision, SafetyLayer, SessionStop

#: Slice of every wait: the watchdog heartbeat and Stop are checked at least this often.
WAIT_SLICE_S = 0.02


class ProtocolStop(Exception):
    """A stop rule ended this protocol (e.g. fatigue stops force work); the session goes on.

    ``journalled``: the protocol journalled the decision itself (with its own code), so the
    runner does not journal it again."""

    def __init__(self, decision: Decision, *, journalled: bool = False) -> None:
        super().__init__(decision.reason)
        self.decision = decision
        self.journalled = journalled


class ForcePort(TypingProtocol):
    """Calibrated pad forces (``sensors.acquisition.Acquisition`` is one)."""

    def latest_n(self, pad: int) -> float: ...
    def window_n(self, pad: int, seconds: float) -> tuple[Any, Any]: ...
    def full_scale_n(self) -> float: ...
    def calibrated(self, pad: int) -> bool: ...
    def tare(
        self, seconds: float = 0.5, pads: Collection[int] | None = None
    ) -> dict[int, float]: ...


class UiPort(TypingProtocol):
    """What protocols and the runner show and ask (``station.ui.SessionUi`` is one).

    ``ask_*`` return None when nobody answered within ``timeout_s``.
    """

    def bind(self, check: Callable[[], None] | None) -> None: ...
    def pause_requested(self) -> bool: ...
    def prompt(self, key: str, **params: Any) -> None: ...
    def ask_ok(
        self, key: str, timeout_s: float, *, back: bool = True, **params: Any
    ) -> bool | None: ...
    def ask_yes_no(self, key: str, timeout_s: float) -> bool | None: ...
    def ask_rating(self, key: str, timeout_s: float) -> int | None: ...
    def ask_choice(self, key: str, timeout_s: float, left: str, right: str) -> Any: ...
    def progress(self, key: str, done: int, total: int, **params: Any) -> None: ...
    def countdown(self, key: str, seconds: int, wait: Callable[[float], None]) -> None: ...
    def biofeedback(
        self,
        title_key: str,
        force_n: float,
        full_scale_n: float,
        band: tuple[float, float] | None = None,
        **params: Any,
    ) -> None: ...
    def biofeedback2(
        self,
        title_key: str,
        forces_n: tuple[float, float],
        targets_n: tuple[float | None, float | None],
        full_scale_n: float,
        shown: tuple[bool, bool] = (True, True),
        **params: Any,
    ) -> None: ...
    def cue(self, name: str) -> None: ...
    def error(self, key: str, code: str) -> None: ...


@dataclass
class SessionContext:
    clock: Any
    ui: UiPort
    forces: ForcePort | None
    journal: Journal
    session_id: int
    safety: SafetyLayer
    caps: Caps
    hands: dict[str, str]  # "involved"/"uninvolved" -> "left"/"right"
    deadline_s: float  # clock time at which the session-length cap ends the session
    no_response_s: float
    data_quality: dict[str, Any] = field(default_factory=dict)
    vibration_allowed: bool = True
    #: The plan's ``gates.maximal_tests``: a motor task may take its reference from a
    #: maximal grip only then (else it measures a comfortable effort).
    maximal_tests: bool = False
    trials_done: int = 0
    #: Raises a sensor fault the acquisition loop found (``Acquisition.check``).
    monitor: Callable[[], None] | None = None
    #: Called after each trial is journalled (the app stores the vibration dose there).
    after_trial: Callable[[], None] | None = None
    #: Pauses so far; a protocol compares it across a trial to flag a paused trial.
    pauses: int = 0
    #: Calibrated, capped vibration (``sensors.haptics.Haptics``); None: no motors fitted.
    haptics: Any = None
    #: The session's random choices (which interval holds the stimulus, catch trials):
    #: seeded from the session's uid, so no two sessions share a sequence.
    rng: random.Random = field(default_factory=random.Random)
    #: Contact force band (N) on a pad while a sensory stimulus plays, and how many trials
    #: of one block may be repeated for it (``[sensory]`` config).
    contact_band_n: tuple[float, float] = (0.3, 3.0)
    max_contact_repeats: int = 8
    #: Groove width (mm) of each pad's texture overlay (``pads.textures_mm``).
    texture_widths_mm: Sequence[float] = ()
    #: The patient's dominant hand (config ``station.handedness``): "left", "right", or
    #: None (ambidextrous), for symmetry indices (``reference/CLINICAL.md`` §2.4).
    dominant: str | None = None

    def wait(self, seconds: float) -> None:
        """Sleep on the clock in short slices: heartbeat, Stop, session-length cap."""
        end = self.clock.now() + max(0.0, seconds)
        while True:
            self.check()
            remaining = end - self.clock.now()
            if remaining <= 0:
                return
            self.clock.sleep(min(WAIT_SLICE_S, remaining))

    def check(self) -> None:
        self.safety.heartbeat()
        self.safety.check_stop()
        if self.monitor is not None:
            self.monitor()
        if self.ui.pause_requested():
            self.pause()
        if self.clock.now() >= self.deadline_s:
            # Cut short: not every planned protocol ran to its end, so not "complete".
            raise SessionStop("session length cap reached", SessionState.INCOMPLETE, Code.TIME)

    def checked(self) -> bool:
        """:meth:`check` as a vibration's ``until``: what ends the session is raised (the
        motors stop with it); never asks the vibration itself to end."""
        self.check()
        return False

    def answer(self, ask: Callable[[], Any]) -> Any:
        """``ask()`` (a question that returns None when nobody answered); on no answer the
        "still there?" screen, then ask again once; nobody there ends the session as
        incomplete."""
        for _ in range(2):
            self.check()
            answer = ask()
            if answer is not None:
                return answer
            self.safety.event(
                EventKind.PAUSED, {"by": "no response", "waited_s": self.no_response_s}, Code.PAUSE
            )
            if not self.ui.ask_ok("session.paused", self.no_response_s):
                break
        raise SessionStop("no response from the patient", SessionState.INCOMPLETE, Code.NO_RESPONSE)

    def pause(self) -> None:
        """The patient asked for a pause (Back): motors off, wait for OK, then go on.

        Nobody back within ``no_response_s`` ends the session as incomplete.
        """
        self.pauses += 1
        self.safety.motors_off("pause")
        self.safety.event(EventKind.PAUSED, {"by": "patient"}, Code.PAUSE)
        self.ui.bind(None)  # the pause screen's own wait must not re-enter check()
        try:
            answer = self.ui.ask_ok("session.paused_by_you", self.no_response_s, back=False)
        finally:
            self.ui.bind(self.check)
        if answer is None:
            raise SessionStop(
                "no response during a pause", SessionState.INCOMPLETE, Code.NO_RESPONSE
            )
        self.safety.event(EventKind.RESUMED, {}, Code.RESUME)

    def record_trial(self, trial: Trial) -> None:
        self.journal.record_trial(self.session_id, trial)
        self.trials_done += 1
        if self.after_trial is not None:
            self.after_trial()


@dataclass(frozen=True)
class MetricsContext:
    """What a protocol's metrics need to know of the station."""

    hands: Mapping[str, str]  # "involved"/"uninvolved" -> "left"/"right"
    #: Relative standard uncertainty of a calibrated pad force (0.1: 10 %).
    calibration_tolerance: float = 0.1
    #: ``history(protocol)``: ``(session uid, started_at, trials)`` of that protocol in the
    #: sessions before this one, newest first (``Journal.previous_trials``); None: no past.
    history: Callable[[str], list[tuple[str, str, list[Trial]]]] | None = None
    #: The patient's dominant hand ("left", "right"; None: ambidextrous), as in
    #: :attr:`SessionContext.dominant`.
    dominant: str | None = None


class Protocol:
    """Base for protocols: ``name``, parameter validation, ``run`` and ``metrics``.

    A protocol of the catalogue names its entry (``class MaxGrip(Protocol,
    spec=MAX_GRIP)``) and takes its name, params and gates from it."""

    name = "protocol"
    #: Needs the plan's ``gates.maximal_tests`` (maximal grip, RFD, fatigue).
    maximal = False
    uses_force = False
    uses_vibration = False
    #: The plan params this protocol takes; a plan naming any other is refused.
    PARAMS: ClassVar[Mapping[str, Param]] = {}
    #: Its catalogue entry (None only for the abstract bases).
    spec: ClassVar[ProtocolSpec | None] = None

    def __init_subclass__(cls, spec: ProtocolSpec | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if spec is not None:
            cls.spec = spec
            cls.name, cls.PARAMS, cls.maximal = spec.name, spec.params, spec.maximal
            cls.uses_force, cls.uses_vibration = spec.uses_force, spec.uses_vibration

    def __init__(self, params: dict[str, Any]) -> None:
        """Raises :class:`~station.protocol_params.ParamError` (a ``ValueError``) naming a
        parameter not in :attr:`PARAMS` or out of its range, or params that do not fit
        together (the catalogue entry's ``params_check``)."""
        self.params = parse_params(self.PARAMS, params)
        if self.spec is not None and self.spec.params_check is not None:
            wrong = self.spec.params_check(self.params)
            if wrong is not None:
                raise ParamError(*wrong)

    def pads_used(self) -> tuple[int, ...]:
        """The force pads this protocol reads (they are zeroed before it)."""
        return ()

    def check_ready(self, ctx: SessionContext) -> None:
        """What this protocol needs before it runs: the pads it reads fitted and calibrated
        (never a force in uncalibrated units: the technician must set the pad up first).
        Raises :class:`ProtocolStop` (``no_force_pads``, ``uncalibrated``)."""
        pads = self.pads_used()
        if pads and ctx.forces is None:
            raise ProtocolStop(
                Decision(DecisionKind.NO_FORCE_PADS, Scope.FORCE, "no force pads fitted", {})
            )
        for pad in pads:
            assert ctx.forces is not None
            if not ctx.forces.calibrated(pad):
                ctx.ui.error("error.calibration", "E-CAL-01")
                ctx.wait(5.0)
                reason = f"pad {pad} has no calibration record"
                raise ProtocolStop(
                    Decision(DecisionKind.UNCALIBRATED, Scope.FORCE, reason, {"pad": pad})
                )

    def run(self, ctx: SessionContext) -> None:
        raise NotImplementedError

    def metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        raise NotImplementedError
