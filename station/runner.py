"""The session runner: check-in, today's protocols with rests, end check, summary.

One session (:meth:`SessionRunner.run_session`):

1. nothing planned today: no session, the patient is told; everything planned held back
   by the plan's gates: a session journalled ``incomplete`` with the reason, no check-in;
2. the journal opens the session; the watchdog starts;
3. pre-session check-in on the LCD: pain 0-10, new numbness or tingling, wound problems;
   the stop rules decide whether to go on (and whether vibration is allowed today);
4. today's protocols from the plan, in order, with a pain check between two; a protocol
   needing maximal tests runs only when the plan allows them; a stop rule inside a
   protocol ends that protocol (and force or vibration work as it says), the Stop button
   or a pain stop ends the session;
5. end-of-session pain check (a pain stop rule there makes the session ``stopped``); the
   session is closed in the journal;
6. whatever happened, the motors are turned off, and the summary is written together with
   its outbox row. Only a session whose steps all ran is ``complete``: a signal or an
   exception anywhere while its journal row is open leaves it ``incomplete``.

A patient who does not answer gets a pause screen; if nobody comes back, the session ends
marked incomplete. At start-up :meth:`recover` closes a session interrupted by a crash or a
power cut and summarises what it had, with the plan it ran (:mod:`station.recovery`).

The runner knows no protocol in particular: what one needs goes through the interface of
:class:`~station.protocols.base.Protocol` (its gates, the pads it reads, ``check_ready``,
``metrics``). The patient's checks are :mod:`station.session_checks`; how each kind of end
is journalled and shown is :mod:`station.session_end`.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sensors.faults import PadFault, SensorFault
from sensors.force_pads import PadLoadedAtTare
from station import recovery
from station import summary as summary_mod
from station.journal import Journal
from station.kinds import Code, DecisionKind, EventKind, Scope, SessionState
from station.plan import Plan, ScheduleItem
from station.protocols import PROTOCOLS
from station.protocols.base import (
    MetricsContext,
    Protocol,
    ProtocolStop,
    SessionContext,
    UiPort,
)
from station.safety import Decision, SafetyLayer, SessionStop, SignalWindow
from station.session_checks import PatientChecks
from station.session_end import Ending, Progress, SessionEnds, protocol_stop_state
from station.session_results import PlannedProtocol, protocol_results

log = logging.getLogger(__name__)

#: Pad tare at the start of a session: window length and attempts.
TARE_S = 0.5
TARE_ATTEMPTS = 3


@dataclass(frozen=True)
class Outcome:
    """What a session came to: its journal id and state, why, and the summary queued."""

    session_id: int
    state: SessionState
    reason: str
    msg_id: str | None
    summary: dict[str, Any]


class SessionRunner:
    """Runs today's session of ``plan`` on the station's parts, and recovers at start-up."""

    def __init__(
        self,
        *,
        clock: Any,
        ui: UiPort,
        forces: Any,
        journal: Journal,
        safety: SafetyLayer,
        plan: Plan,
        station_safety: dict[str, Any],
        hands: dict[str, str],
        enqueue: summary_mod.Enqueue,
        data_quality: Callable[[], dict[str, Any]] | None = None,
        calibration_tolerance: float = 0.1,
        monitor: Callable[[Callable[[SensorFault], bool]], None] | None = None,
        after_trial: Callable[[], None] | None = None,
        haptics: Any = None,
        sensory: dict[str, Any] | None = None,
        texture_widths_mm: Sequence[float] = (),
        seed: int | None = None,
        dominant: str | None = None,
        handedness: str | None = None,
    ) -> None:
        self.clock = clock
        self.ui = ui
        self.forces = forces
        self.journal = journal
        self.safety = safety
        self.plan = plan
        self.caps = plan.effective_caps(station_safety)
        self.no_response_s = float(station_safety["no_response_s"])
        self.hands = hands
        self.enqueue = enqueue
        self.data_quality = data_quality or (lambda: {})
        self.dominant = dominant
        #: Config ``station.handedness`` ("right", "left", "ambidextrous"), for the summary.
        self.handedness = handedness
        self.metrics_context = MetricsContext(hands, calibration_tolerance, dominant=dominant)
        self.monitor = monitor
        self.after_trial = after_trial
        self.haptics = haptics
        sensory = sensory or {}
        self.contact_band_n = (
            float(sensory.get("contact_min_n", 0.3)),
            float(sensory.get("contact_max_n", 3.0)),
        )
        self.max_contact_repeats = int(sensory.get("max_contact_repeats", 8))
        self.texture_widths_mm = tuple(texture_widths_mm)
        #: Seeds each session's random choices with its journal id (the simulator: runs
        #: repeat); None: from the session's random uid (a real station: unpredictable).
        self.seed = seed
        self.checks = PatientChecks(ui, journal, safety, self.caps, self.no_response_s)
        self.ends = SessionEnds(safety, ui)

    def recover(self) -> list[str]:
        """Close interrupted sessions and summarise unsummarised ones, each with the plan it
        ran (:mod:`station.recovery`); the summaries' message ids."""
        return recovery.recover(self.journal, self.enqueue, self.plan, self.metrics_context)

    # -- one session ---------------------------------------------------------------------

    def run_session(self, today: dt.date | None = None) -> Outcome | None:
        """Today's session, journalled and summarised; None on a day the plan has nothing
        for (a rest day: no session to journal, nothing for the clinic)."""
        items = self.plan.today(today or dt.date.today())
        if not items:
            self.ui.prompt("session.nothing_today")
            return None
        # The signal window spans the session row's whole life: a signal while the row is
        # opened or closed waits (held) instead of leaving it open or journalled complete.
        with self.safety.signals() as window, window.hold():
            planned = [p.as_json() for p in PlannedProtocol.of(items)]
            names = [i.protocol for i in items]
            sid = self.journal.start_session(self.plan.plan_version, names, planned)
            try:
                return self._session(sid, items, window)
            finally:
                self.safety.session_id = None

    def _session(self, sid: int, items: Sequence[ScheduleItem], window: SignalWindow) -> Outcome:
        """The steps, then the session closed and summarised, whatever ended it."""
        self.safety.session_id = sid
        ctx = self._context(sid)
        progress = Progress()
        t_start = self.clock.now()
        ending, interrupted = self._guarded(ctx, items, progress, window)
        if ending.state == SessionState.COMPLETE:
            late = window.take()  # a signal while the session was closing: not complete
            if late is not None:
                ending = self.ends.stopped(late, progress)
        self.journal.end_session(sid, ending.state, ending.reason)
        msg_id, body = self._summarise(ctx, items, self.clock.now() - t_start)
        self.ends.goodbye(ending.goodbye)
        if interrupted is not None:
            raise interrupted  # journalled and summarised: now it goes on to the caller
        return Outcome(sid, ending.state, ending.reason, msg_id, body)

    def _guarded(
        self,
        ctx: SessionContext,
        items: Sequence[ScheduleItem],
        progress: Progress,
        window: SignalWindow,
    ) -> tuple[Ending, BaseException | None]:
        """The steps and how they ended, with what to raise once the session is closed;
        the motors are off afterwards, whatever happened."""
        try:
            self.safety.watchdog.start()
            self.ui.bind(ctx.check)
            with window.released():
                return self._steps(ctx, items, progress), None
        except SessionStop as stop:
            return self.ends.stopped(stop, progress), None
        except Exception as exc:
            return self.ends.fault(ctx.session_id, exc, progress), None
        except BaseException as exc:  # KeyboardInterrupt not from a signal, SystemExit
            return self.ends.interrupted(exc, progress), exc
        finally:
            self.safety.motors_off("session end")
            self.ui.bind(None)
            self.safety.watchdog.stop()

    def _context(self, sid: int) -> SessionContext:
        return SessionContext(
            clock=self.clock,
            ui=self.ui,
            forces=self.forces,
            journal=self.journal,
            session_id=sid,
            safety=self.safety,
            caps=self.caps,
            hands=self.hands,
            deadline_s=self.clock.now() + self.caps.max_session_min * 60.0,
            no_response_s=self.no_response_s,
            after_trial=self.after_trial,
            haptics=self.haptics,
            rng=random.Random(
                self.journal.session(sid)["session_uid"]
                if self.seed is None
                else f"{self.seed}-{sid}"
            ),
            contact_band_n=self.contact_band_n,
            max_contact_repeats=self.max_contact_repeats,
            texture_widths_mm=self.texture_widths_mm,
            vibration_allowed=not self._tingling_today(),
            maximal_tests=self.plan.maximal_tests,
            dominant=self.dominant,
        )

    def _tingling_today(self) -> bool:
        """Tingling or discomfort after vibration earlier today (UTC day, as the journal
        keeps time) stops vibrotactile work for the rest of the day (CLINICAL.md §6.4)."""
        today = self.journal.now()[:10]
        return self.journal.events_since(DecisionKind.PARESTHESIA, today) > 0

    def _summarise(
        self, ctx: SessionContext, items: Sequence[ScheduleItem], duration_s: float
    ) -> tuple[str, dict[str, Any]]:
        """The summary, queued with its outbox row; its message id and body."""
        sid = ctx.session_id
        results = protocol_results(
            self.journal, sid, PlannedProtocol.of(items), self.metrics_context
        )
        quality = {**self.data_quality(), **ctx.data_quality}
        body = summary_mod.build(
            self.journal,
            sid,
            results,
            quality,
            self.plan.plan_version,
            duration_s=duration_s,
            handedness=self.handedness,
        )
        return summary_mod.write(self.journal, sid, body, self.enqueue), body

    # -- steps ---------------------------------------------------------------------------

    def _steps(
        self, ctx: SessionContext, items: Sequence[ScheduleItem], progress: Progress
    ) -> Ending:
        """Check-in, today's protocols with a pain check between two, the end check."""
        protos = [PROTOCOLS[i.protocol](i.params) for i in items if i.protocol in PROTOCOLS]
        if all(self._gated(p) for p in protos):
            return self._nothing_to_run(protos)
        pads = {pad for p in protos if not self._gated(p) for pad in p.pads_used()}
        ctx.monitor = self._monitor_for(pads)
        pain_before = self.checks.checkin(ctx)
        if ctx.forces is not None and pads:
            self._tare(ctx, pads)
        if not self._protocols(ctx, protos, progress, pain_before):
            # every protocol held back by a rule: no exercise to ask about
            return progress.ending("", "session.stopped")
        return self.checks.end_check(ctx, pain_before, progress)

    def _protocols(
        self,
        ctx: SessionContext,
        protos: Sequence[Protocol],
        progress: Progress,
        pain_before: int,
    ) -> bool:
        """Today's protocols in order, a pain check between two; False when none ran."""
        force_stopped = ran = False
        for proto in protos:
            if not self._may_run(ctx, proto, force_stopped, progress):
                continue
            if ran:  # before the next protocol, not after the last: the end check asks then
                self.checks.pain_check(ctx, pain_before)
            ran = True
            force_stopped |= self._run_protocol(ctx, proto, progress)
        return ran

    def _may_run(
        self, ctx: SessionContext, proto: Protocol, force_stopped: bool, progress: Progress
    ) -> bool:
        """Whether the plan's gates and today's rules let ``proto`` run."""
        if self._gated(proto):
            self.safety.event(EventKind.MAXIMAL_NOT_ALLOWED, {"protocol": proto.name}, Code.GATE)
            self.ui.prompt("session.skipped")
            ctx.wait(3.0)
            return False
        if proto.uses_force and force_stopped:
            progress.add(SessionState.STOPPED, f"{proto.name}: skipped, force work stopped")
            return False
        if proto.uses_vibration and not ctx.vibration_allowed:
            progress.add(SessionState.STOPPED, f"{proto.name}: skipped, no vibration today")
            return False
        return True

    def _run_protocol(self, ctx: SessionContext, proto: Protocol, progress: Progress) -> bool:
        """Run ``proto`` once what it needs is ready; True when a rule stopped force work."""
        try:
            proto.check_ready(ctx)
            proto.run(ctx)
        except ProtocolStop as stop:
            if not stop.journalled:
                self.safety.decision(stop.decision, Code.PROTOCOL)
            progress.add(protocol_stop_state(stop.decision), f"{proto.name}: {stop}")
            self.ui.prompt("session.protocol_stopped")
            ctx.wait(3.0)
            return stop.decision.scope == Scope.FORCE
        return False

    def _nothing_to_run(self, protos: Sequence[Protocol]) -> Ending:
        """Something was planned today, but the plan's gates hold all of it back: no
        check-in for nothing, and the clinic sees why no exercise ran."""
        held = list(dict.fromkeys(p.name for p in protos))
        for name in held:
            self.safety.event(EventKind.MAXIMAL_NOT_ALLOWED, {"protocol": name}, Code.GATE)
        what = (
            ", ".join(f"{n} (maximal tests not allowed)" for n in held)
            or "no protocol this station runs"
        )
        reason = f"nothing to run today: {what}"
        return Ending(SessionState.INCOMPLETE, reason, "session.nothing_to_run")

    def _gated(self, proto: Protocol) -> bool:
        """The plan's gates hold ``proto`` back (a maximal test without maximal_tests)."""
        return proto.maximal and not self.plan.maximal_tests

    # -- the pads ------------------------------------------------------------------------

    def _monitor_for(self, pads: set[int]) -> Callable[[], None] | None:
        """The session's fault check: the faults of the pads it reads (and of the supply
        reference, which every pad needs). Another part's fault (a pad no protocol reads,
        the glove) is journalled and turns the motors off, but does not end the session."""
        monitor = self.monitor
        if monitor is None:
            return None

        def relevant(fault: SensorFault) -> bool:
            return isinstance(fault, PadFault) and (fault.pad < 0 or fault.pad in pads)

        return lambda: monitor(relevant)

    def _tare(self, ctx: SessionContext, pads: set[int]) -> None:
        """Zero the pads before the first force protocol (an FSR drifts with temperature and
        age). A pad pressed at tare gets a request to lift the hands, twice; then the
        session goes on with the last tare, and the summary's data quality says so."""
        assert ctx.forces is not None
        for attempt in range(TARE_ATTEMPTS):
            try:
                ctx.forces.tare(TARE_S, pads)
                ctx.data_quality["pads_tared"] = True
                return
            except PadLoadedAtTare as exc:
                if attempt + 1 == TARE_ATTEMPTS:
                    log.warning("pads not tared this session: %s", exc)
                    ctx.data_quality.update(pads_tared=False, tare_problem=str(exc))
                    return
                self.ui.prompt("session.hands_off")
                ctx.wait(3.0)


__all__ = ["PROTOCOLS", "Decision", "Outcome", "SessionRunner"]
