"""The patient's checks around the exercises: the check-in before them, the pain check
between two protocols and the end check after the last, each with its stop rule
(``station.safety``). The answers are journalled; a rule that fires is a safety event."""

from __future__ import annotations

from station.journal import Journal
from station.kinds import Code, Scope, SessionState
from station.plan import Caps
from station.protocols.base import SessionContext, UiPort
from station.safety import SafetyLayer, SessionStop, checkin_decision, pain_decision
from station.session_end import Ending, Progress


class PatientChecks:
    """The questions, asked through the session's waits (Stop, the cap, no answer)."""

    def __init__(
        self, ui: UiPort, journal: Journal, safety: SafetyLayer, caps: Caps, no_response_s: float
    ) -> None:
        self.ui = ui
        self.journal = journal
        self.safety = safety
        self.caps = caps
        self.no_response_s = no_response_s

    def checkin(self, ctx: SessionContext) -> int:
        """Pain, new numbness or tingling, wound problems; the pain before the exercises.
        Raises :class:`SessionStop` when a rule says not today; no vibration today when
        a rule says so."""
        self.ui.prompt("session.welcome")
        ctx.wait(2.0)
        pain = self._rating(ctx, "checkin.pain")
        numb = self._yes_no(ctx, "checkin.numbness")
        wound = self._yes_no(ctx, "checkin.wound")
        self.journal.set_checkin(
            ctx.session_id, {"pain": pain, "new_numbness": numb, "wound_problem": wound}
        )
        decision = checkin_decision(pain, numb, wound, self.caps)
        if decision is not None:
            self.safety.decision(decision, Code.CHECKIN)
            if decision.scope == Scope.SESSION:
                raise SessionStop(decision.reason, SessionState.STOPPED, Code.CHECKIN)
            if decision.scope == Scope.VIBRATION:
                ctx.vibration_allowed = False
        return pain

    def pain_check(self, ctx: SessionContext, before: int) -> None:
        """Between two protocols: pain that rose by the stop rule ends the session before
        the next one starts."""
        now = self._rating(ctx, "check.pain_now")
        earlier = (self.journal.session(ctx.session_id)["checkout"] or {}).get("pain_between", [])
        self.journal.set_checkout(ctx.session_id, {"pain_between": [*earlier, now]})
        decision = pain_decision(before, now, self.caps)
        if decision is not None:
            self.safety.decision(decision, Code.PAIN)
            raise SessionStop(decision.reason, SessionState.STOPPED, Code.PAIN)

    def end_check(self, ctx: SessionContext, before: int, progress: Progress) -> Ending:
        """The pain after the exercises, and how the session ends: ``complete`` only when
        every protocol ran to its end and no pain rule fired."""
        after = self._rating(ctx, "checkout.pain")
        self.journal.set_checkout(ctx.session_id, {"pain": after})
        decision = pain_decision(before, after, self.caps)
        if decision is not None:
            # The exercises are over, but the pain rule fired: not a complete session.
            self.safety.decision(decision, Code.PAIN)
            first = f"{decision.reason} at the end check"
            return progress.ending(first, "session.done_pain", SessionState.STOPPED)
        if progress.cut_short:  # the session reached its end, but not every protocol did
            return progress.ending("", "session.done")
        return Ending(SessionState.COMPLETE, "", "session.done")

    def _rating(self, ctx: SessionContext, key: str) -> int:
        answer: int = ctx.answer(lambda: self.ui.ask_rating(key, self.no_response_s))
        return answer

    def _yes_no(self, ctx: SessionContext, key: str) -> bool:
        answer: bool = ctx.answer(lambda: self.ui.ask_yes_no(key, self.no_response_s))
        return answer
