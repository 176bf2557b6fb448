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
power cut and summarises what it had.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sensors.faults import PadFault, SensorFault
from sensors.force_pads import PadLoadedAtTare
from station import summary as summary_mod
from station.journal import Journal
from station.plan import Plan, ScheduleItem
from station.protocols import PROTOCOLS
from station.protocols.base import Protocol, ProtocolStop, SessionContext, UiPort
from station.protocols.max_grip import MaxGrip
from station.safety import (
    Decision,
    SafetyLayer,
    SessionStop,
    SignalWindow,
    checkin_decision,
    pain_decision,
)
from station.session_end import (
    SESSION_STOP_EVENTS,
    STOP_SCREENS,
    Ending,
    Progress,
    fault_screen,
    protocol_stop_state,
)

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    session_id: int
    state: str
    reason: str
    msg_id: str | None
    summary: dict[str, Any]


class SessionRunner:
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
        self.calibration_tolerance = calibration_tolerance
        self.monitor = monitor
        self.after_trial = after_trial

    # -- start-up ------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Close interrupted sessions as incomplete and summarise every unsummarised one.

        An interrupted session ends at its last trial or event, not at the restart (hours
        later, perhaps). A session that cannot be summarised (the outbox is full, say) is
        logged and left for the next start; the others still are."""
        msg_ids = []
        for sid in self.journal.interrupted():
            log.warning("session %s was interrupted; marking it incomplete", sid)
            last = self.journal.last_activity(sid)
            self.journal.record_event(
                sid, "interrupted", {"reason": "station restarted"}, code="S-RESTART"
            )
            self.journal.end_session(
                sid,
                "incomplete",
                "station stopped during the session (closed at restart)",
                ended_at=last,
            )
        for sid in self.journal.unsummarised():
            try:
                results = self._results(sid, self.journal.session(sid)["protocols"])
                body = summary_mod.build(
                    self.journal,
                    sid,
                    results,
                    {"recovered": True},
                    self.journal.session(sid)["plan_version"],
                )
                msg_ids.append(summary_mod.write(self.journal, sid, body, self.enqueue))
            except Exception:
                log.exception("session %s could not be summarised; trying at the next start", sid)
        return msg_ids

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
            sid = self.journal.start_session(self.plan.plan_version, [i.protocol for i in items])
            try:
                return self._session(sid, items, window)
            finally:
                self.safety.session_id = None

    def _session(self, sid: int, items: Sequence[ScheduleItem], window: SignalWindow) -> Outcome:
        self.safety.session_id = sid
        pads = self._pads_used_today(items)
        ctx = SessionContext(
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
            monitor=self._monitor_for(pads),
            after_trial=self.after_trial,
        )
        progress = Progress()
        # Never "complete" unless the steps say so: an interruption anywhere is not.
        ending = Ending("incomplete", "interrupted", "session.incomplete")
        interrupted: BaseException | None = None
        t_start = self.clock.now()
        try:
            self.safety.watchdog.start()
            self.ui.bind(ctx.check)
            with window.released():
                ending = self._steps(ctx, items, pads, progress)
        except SessionStop as stop:
            ending = self._stopped(stop, progress)
        except Exception as exc:
            ending = self._fault(sid, exc, progress)
        except BaseException as exc:  # KeyboardInterrupt not from a signal, SystemExit
            reason = "; ".join([f"interrupted ({type(exc).__name__})", *progress.reasons()])
            ending = Ending("incomplete", reason, "session.incomplete")
            self.safety.event("signal", {"reason": type(exc).__name__}, "S-SIGNAL")
            interrupted = exc
        finally:
            self.safety.motors_off("session end")
            self.ui.bind(None)
            self.safety.watchdog.stop()
        if ending.state == "complete":
            late = window.take()  # a signal while the session was closing: not complete
            if late is not None:
                ending = self._stopped(late, progress)
        self.journal.end_session(sid, ending.state, ending.reason)
        results = self._results(sid, [i.protocol for i in items])
        body = summary_mod.build(
            self.journal,
            sid,
            results,
            {**self.data_quality(), **ctx.data_quality},
            self.plan.plan_version,
            duration_s=self.clock.now() - t_start,
        )
        msg_id = summary_mod.write(self.journal, sid, body, self.enqueue)
        self._goodbye(ending.goodbye)
        if interrupted is not None:
            raise interrupted  # journalled and summarised: now it goes on to the caller
        return Outcome(sid, ending.state, ending.reason, msg_id, body)

    # -- steps ---------------------------------------------------------------------------

    def _steps(
        self,
        ctx: SessionContext,
        items: Sequence[ScheduleItem],
        pads: set[int],
        progress: Progress,
    ) -> Ending:
        """Check-in, today's protocols with a pain check between two, the end check."""
        protos = [PROTOCOLS[i.protocol](i.params) for i in items if i.protocol in PROTOCOLS]
        if all(self._gated(p) for p in protos):
            return self._nothing_to_run(protos)
        pain_before = self._checkin(ctx)
        if ctx.forces is not None and pads:
            self._tare(ctx, pads)
        force_stopped = ran = False
        for proto in protos:
            if self._gated(proto):
                self.safety.event("maximal_not_allowed", {"protocol": proto.name}, "S-GATE")
                self.ui.prompt("session.skipped")
                ctx.wait(3.0)
                continue
            if proto.uses_force and force_stopped:
                progress.cut_short.append(("stopped", f"{proto.name}: skipped, force work stopped"))
                continue
            if proto.uses_vibration and not ctx.vibration_allowed:
                progress.cut_short.append(("stopped", f"{proto.name}: skipped, no vibration today"))
                continue
            if ran:  # before the next protocol, not after the last: the end check asks then
                self._pain_check(ctx, pain_before)
            ran = True
            force_stopped |= self._run_protocol(ctx, proto, progress)
        if not ran:  # every protocol held back by a rule: no exercise to ask about
            return Ending(progress.state(), "; ".join(progress.reasons()), "session.stopped")
        return self._end_check(ctx, pain_before, progress)

    def _run_protocol(self, ctx: SessionContext, proto: Protocol, progress: Progress) -> bool:
        """Run ``proto``; True when a rule stopped force work."""
        try:
            if isinstance(proto, MaxGrip):
                proto.calibration_tolerance = self.calibration_tolerance
            proto.run(ctx)
        except ProtocolStop as stop:
            if stop.decision.kind != "fatigue":  # fatigue journalled its own
                self.safety.decision(stop.decision, "S-PROTO")
            progress.cut_short.append((protocol_stop_state(stop.decision), f"{proto.name}: {stop}"))
            self.ui.prompt("session.protocol_stopped")
            ctx.wait(3.0)
            return stop.decision.scope == "force"
        return False

    def _nothing_to_run(self, protos: Sequence[Protocol]) -> Ending:
        """Something was planned today, but the plan's gates hold all of it back: no
        check-in for nothing, and the clinic sees why no exercise ran."""
        held = list(dict.fromkeys(p.name for p in protos))
        for name in held:
            self.safety.event("maximal_not_allowed", {"protocol": name}, "S-GATE")
        what = (
            ", ".join(f"{n} (maximal tests not allowed)" for n in held)
            or "no protocol this station runs"
        )
        return Ending("incomplete", f"nothing to run today: {what}", "session.nothing_to_run")

    def _end_check(self, ctx: SessionContext, pain_before: int, progress: Progress) -> Ending:
        pain_after = self._ask_rating(ctx, "checkout.pain")
        self.journal.set_checkout(ctx.session_id, {"pain": pain_after})
        reasons = progress.reasons()
        decision = pain_decision(pain_before, pain_after, self.caps)
        if decision is not None:
            # The exercises are over, but the pain rule fired: not a complete session.
            self.safety.decision(decision, "S-PAIN")
            reason = "; ".join([f"{decision.reason} at the end check", *reasons])
            return Ending("stopped", reason, "session.done_pain")
        if progress.cut_short:  # the session reached its end, but not every protocol did
            return Ending(progress.state(), "; ".join(reasons), "session.done")
        return Ending("complete", "", "session.done")

    def _stopped(self, stop: SessionStop, progress: Progress) -> Ending:
        """The stop that ended the session first, then what rules had ended before it."""
        kind = SESSION_STOP_EVENTS.get(stop.code or "")
        if kind is not None:
            self.safety.event(kind, {"reason": stop.reason}, stop.code)
        fallback = "session.stopped" if stop.state == "stopped" else "session.incomplete"
        goodbye = STOP_SCREENS.get(stop.code or "", fallback)
        return Ending(stop.state, "; ".join([stop.reason, *progress.reasons()]), goodbye)

    def _fault(self, sid: int, exc: Exception, progress: Progress) -> Ending:
        key, code = fault_screen(exc)
        self.safety.motors_off("fault")
        self.safety.event("fault", {"error": repr(exc)}, code)
        log.exception("session %s ended by a fault", sid)
        self._show_error(key, code)
        reason = "; ".join([f"fault: {exc}", *progress.reasons()])
        return Ending("incomplete", reason, None)

    def _checkin(self, ctx: SessionContext) -> int:
        self.ui.prompt("session.welcome")
        ctx.wait(2.0)
        pain = self._ask_rating(ctx, "checkin.pain")
        numb = self._ask_yes_no(ctx, "checkin.numbness")
        wound = self._ask_yes_no(ctx, "checkin.wound")
        self.journal.set_checkin(
            ctx.session_id, {"pain": pain, "new_numbness": numb, "wound_problem": wound}
        )
        decision = checkin_decision(pain, numb, wound, self.caps)
        if decision is not None:
            self.safety.decision(decision, "S-CHECKIN")
            if decision.scope == "session":
                raise SessionStop(decision.reason, "stopped", "S-CHECKIN")
            if decision.scope == "vibration":
                ctx.vibration_allowed = False
        return pain

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

    def _pads_used_today(self, items: Sequence[ScheduleItem]) -> set[int]:
        """The pads today's protocols read, leaving out those the plan's gates skip."""
        pads: set[int] = set()
        for item in items:
            factory = PROTOCOLS.get(item.protocol)
            if factory is None:
                continue
            try:
                proto = factory(item.params)
            except ValueError:
                continue  # it fails again, and is reported, when its turn comes
            if not self._gated(proto):
                pads.update(proto.pads_used())
        return pads

    def _gated(self, proto: Protocol) -> bool:
        """The plan's gates hold ``proto`` back (a maximal test without maximal_tests)."""
        return proto.maximal and not self.plan.maximal_tests

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

    def _pain_check(self, ctx: SessionContext, before: int) -> None:
        """Between two protocols: pain that rose by the stop rule ends the session before
        the next one starts."""
        now = self._ask_rating(ctx, "check.pain_now")
        decision = pain_decision(before, now, self.caps)
        if decision is not None:
            self.safety.decision(decision, "S-PAIN")
            raise SessionStop(decision.reason, "stopped", "S-PAIN")

    def _ask_rating(self, ctx: SessionContext, key: str) -> int:
        return ctx.answer(lambda: self.ui.ask_rating(key, self.no_response_s))

    def _ask_yes_no(self, ctx: SessionContext, key: str) -> bool:
        return ctx.answer(lambda: self.ui.ask_yes_no(key, self.no_response_s))

    def _results(self, sid: int, names: list[str]) -> list[dict[str, Any]]:
        out = []
        for name in dict.fromkeys(names):  # a protocol listed twice is one set of metrics
            factory = PROTOCOLS.get(name)
            plan_item = next((i for i in self.plan.schedule if i.protocol == name), None)
            if factory is None or plan_item is None:
                continue
            proto = factory(plan_item.params)
            if isinstance(proto, MaxGrip):
                proto.calibration_tolerance = self.calibration_tolerance
            trials = self.journal.trials(sid, name)
            ctx = SessionContext(
                self.clock,
                self.ui,
                self.forces,
                self.journal,
                sid,
                self.safety,
                self.caps,
                self.hands,
                0.0,
                0.0,
            )
            out.append(
                {
                    "protocol": name,
                    "trials": len(trials),
                    "metrics": proto.metrics(trials, ctx) if trials else {},
                }
            )
        return out

    def _show_error(self, key: str, code: str) -> None:
        try:
            self.ui.error(key, code)
        except Exception:
            log.exception("could not show the error screen %s", code)

    def _goodbye(self, key: str | None) -> None:
        if key is None:
            return
        try:
            self.ui.prompt(key)
        except Exception:
            log.exception("could not show the end-of-session screen")


#: Pad tare at the start of a session: window length and attempts.
TARE_S = 0.5
TARE_ATTEMPTS = 3


__all__ = ["PROTOCOLS", "Decision", "Outcome", "SessionRunner"]
