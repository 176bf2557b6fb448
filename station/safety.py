"""The safety layer: caps where commands are issued, stop rules, watchdog, motors off.

Everything here is independent of how the session is run, so the same rules hold on a Pi,
in ``--sim`` and in tests:

* **Motors off on every exit path**: :meth:`SafetyLayer.motors_off` is called by the
  session's ``finally``, by the Stop button callback (immediately, from the GPIO thread),
  by the watchdog when the session loop stalls, and by the SIGTERM/SIGINT handlers.
* **Stop rules** (``reference/CLINICAL.md`` §6.4, a proposal the clinician tunes through the
  plan): pain at or above the plan's limit, or a rise of 2 or more points from check-in;
  new numbness or tingling (no vibration today); wound problems (no session); a fall of the
  within-session peak force by more than 25 % (stop force work); the session length cap.
* **Caps**: force targets are clamped here; vibration caps are enforced in
  ``sensors.haptics`` at the point of issue, with the caps this layer hands it.

Every stop is journalled as a safety event and appears in the summary.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from drivers.clock import MonotonicClock
from station.kinds import Code, DecisionKind, EventKind, Scope, SessionState
from station.plan import Caps

log = logging.getLogger(__name__)

#: Peak-force drop within a protocol that stops force work (CLINICAL.md §6.4: 20-30 %).
FATIGUE_DROP = 0.25


class SessionStop(BaseException):
    """Raised inside the session loop to end it; ``state`` is the journal state.

    A ``BaseException``, like ``KeyboardInterrupt``: the signal handlers raise it wherever
    the main thread is, and a best-effort ``except Exception`` on the way (a buzzer cue, a
    journal write) must not swallow the end of a session."""

    def __init__(
        self,
        reason: str,
        state: SessionState = SessionState.STOPPED,
        code: Code | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.state = state
        self.code = code


@dataclass(frozen=True)
class Decision:
    """A stop rule that fired: what to stop, why, and the journal event kind."""

    kind: DecisionKind
    scope: Scope
    reason: str
    detail: dict[str, Any]


def checkin_decision(
    pain: int, new_numbness: bool, wound_problem: bool, caps: Caps
) -> Decision | None:
    """Pre-session check-in: a reason not to start (or to skip vibration), or None."""
    if wound_problem:
        return Decision(
            DecisionKind.CHECKIN_WOUND,
            Scope.SESSION,
            "wound problem reported",
            {"wound_problem": True},
        )
    if pain >= caps.pain_stop_nrs:
        return Decision(
            DecisionKind.CHECKIN_PAIN,
            Scope.SESSION,
            f"pain {pain}/10 at check-in",
            {"pain": pain, "limit": caps.pain_stop_nrs},
        )
    if new_numbness:
        return Decision(
            DecisionKind.CHECKIN_NUMBNESS,
            Scope.VIBRATION,
            "new numbness or tingling reported",
            {"new_numbness": True},
        )
    return None


def pain_decision(before: int, now: int, caps: Caps) -> Decision | None:
    """Pain during or after the session compared with check-in."""
    if now >= caps.pain_stop_nrs:
        return Decision(
            DecisionKind.PAIN_LIMIT,
            Scope.SESSION,
            f"pain {now}/10",
            {"pain_before": before, "pain_now": now, "limit": caps.pain_stop_nrs},
        )
    if now - before >= caps.pain_rise_stop:
        return Decision(
            DecisionKind.PAIN_RISE,
            Scope.SESSION,
            f"pain rose from {before} to {now}",
            {"pain_before": before, "pain_now": now, "rise_limit": caps.pain_rise_stop},
        )
    return None


def fatigue_decision(peaks_n: list[float]) -> Decision | None:
    """Peak force of successive maximal trials (one hand): stop when it has fallen too far."""
    if len(peaks_n) < 2 or peaks_n[0] <= 0:
        return None
    drop = (peaks_n[0] - peaks_n[-1]) / peaks_n[0]
    if drop > FATIGUE_DROP:
        return Decision(
            DecisionKind.FATIGUE,
            Scope.FORCE,
            f"peak force fell {drop:.0%} from the first trial",
            {
                "first_n": round(peaks_n[0], 2),
                "last_n": round(peaks_n[-1], 2),
                "drop": round(drop, 3),
                "limit": FATIGUE_DROP,
            },
        )
    return None


def clamp_force_target(target_n: float, caps: Caps, other_hand_max_n: float | None) -> float:
    """A force target no plan can push past the caps (newtons, or % of the other hand)."""
    limit = caps.max_force_n
    if caps.force_ceiling_pct_other_hand is not None and other_hand_max_n:
        limit = min(limit, other_hand_max_n * caps.force_ceiling_pct_other_hand / 100.0)
    return max(0.0, min(target_n, limit))


class Watchdog:
    """Turns the motors off when the session loop stops sending heartbeats while they run.

    Runs on real monotonic time in its own thread (a stalled loop does not advance a
    simulated clock either, so stalls are real-time events by nature). It fires only while
    ``armed()`` says a motor may be running: a loop that is slow while nothing vibrates (a
    journal commit waiting on an SD card, a loaded machine) harms nobody, and a stall
    event then would only be noise in the clinician's summary.
    """

    def __init__(
        self,
        timeout_s: float,
        on_stall: Callable[[float], None],
        armed: Callable[[], bool] = lambda: True,
    ) -> None:
        self.timeout_s = timeout_s
        self._on_stall = on_stall
        self._armed = armed
        self._clock = MonotonicClock()
        self._last = self._clock.now()
        self._stop = threading.Event()
        self._fired = False
        self.stalls = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._last = self._clock.now()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def heartbeat(self) -> None:
        self._last = self._clock.now()
        self._fired = False

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._thread = None

    def _run(self) -> None:
        period = min(self.timeout_s / 4.0, 0.05)
        while not self._stop.wait(period):
            stalled = self._clock.now() - self._last
            if stalled > self.timeout_s and not self._fired and self._is_armed():
                self._fired = True
                self.stalls += 1
                try:
                    self._on_stall(stalled)
                except Exception:
                    log.exception("watchdog stall handler failed")

    def _is_armed(self) -> bool:
        try:
            return bool(self._armed())
        except Exception:  # cannot tell whether a motor runs: assume it does
            log.exception("watchdog cannot tell whether a motor runs")
            return True


class SafetyLayer:
    """Owns motors-off, the watchdog, the Stop button latch and the stop-event journal."""

    def __init__(
        self,
        motors_off: Callable[[], None],
        record_event: Callable[..., None],
        clock: Any,
        watchdog_s: float,
        motors_running: Callable[[], bool] = lambda: True,
    ) -> None:
        self._motors_off = motors_off
        self._record = record_event
        self.clock = clock
        self.session_id: int | None = None
        self.stop_pressed = threading.Event()
        self.events: list[dict[str, Any]] = []
        self.watchdog = Watchdog(watchdog_s, self._stall, motors_running)
        self.motors_off_count = 0

    # -- motors --------------------------------------------------------------------------

    def motors_off(self, why: str = "") -> None:
        """Best effort, never raises: called on every exit path."""
        self.motors_off_count += 1
        try:
            self._motors_off()
        except Exception:
            log.exception("motors off failed (%s)", why or "exit path")

    def motors_off_from_signal(self, why: str) -> None:
        """Motors off for a signal handler: on a thread of its own, never in the handler.

        The handler runs in the main thread between two bytecodes, possibly inside an I2C
        transaction that holds the bus lock motors-off needs: calling it there deadlocks
        the process (and the watchdog, which waits for the same lock). The thread gets the
        bus as soon as the main thread lets go of it, e.g. while the handler's exception
        unwinds it."""
        threading.Thread(
            target=self.motors_off, args=(why,), name="motors-off", daemon=True
        ).start()

    # -- events --------------------------------------------------------------------------

    def event(
        self, kind: EventKind | DecisionKind, detail: dict[str, Any], code: Code | str | None = None
    ) -> None:
        """Journal a safety event of the session (and keep it in :attr:`events`); a
        journal that cannot take it is logged, never raised: the session goes on."""
        entry = {"t_s": round(self.clock.now(), 3), "kind": kind, "code": code, "detail": detail}
        self.events.append(entry)
        try:
            self._record(self.session_id, kind, detail, t_s=entry["t_s"], code=code)
        except Exception:
            log.exception("could not journal safety event %s", kind)
        log.warning("safety event %s %s", kind, detail)

    def decision(self, d: Decision, code: Code | None = None) -> None:
        self.event(d.kind, {"scope": d.scope, "reason": d.reason, **d.detail}, code)

    # -- Stop button ---------------------------------------------------------------------

    def on_stop_button(self, *_: Any) -> None:
        """The Stop button callback: latch for the session loop, and motors off at once
        (the latch first: motors-off takes bus time, and a loop that looks in between must
        already see a Stop, not a stray button event)."""
        self.stop_pressed.set()
        self.motors_off("stop button")

    def stop_seen(self) -> None:
        """The session loop saw the buttons' Stop latch, possibly before
        :meth:`on_stop_button` ran on the button thread: end the session the same way."""
        self.stop_pressed.set()
        self.check_stop()

    def check_stop(self) -> None:
        """Raise :class:`SessionStop` if Stop was pressed (the loop calls this often)."""
        if self.stop_pressed.is_set():
            raise SessionStop("stop button pressed", SessionState.STOPPED, Code.STOP)

    # -- watchdog ------------------------------------------------------------------------

    def _stall(self, stalled_s: float) -> None:
        self.motors_off("watchdog")
        self.event(
            EventKind.WATCHDOG,
            {"stalled_s": round(stalled_s, 3), "timeout_s": self.watchdog.timeout_s},
            Code.WATCHDOG,
        )

    def heartbeat(self) -> None:
        self.watchdog.heartbeat()

    # -- signals -------------------------------------------------------------------------

    @contextmanager
    def signals(self) -> Iterator[SignalWindow]:
        """SIGTERM and SIGINT: motors off at once, then end the session (main thread only;
        see :class:`SignalWindow` for when). The handlers from before are put back on the
        way out, and a signal the session did not take goes on to them."""
        window = SignalWindow()
        if threading.current_thread() is not threading.main_thread():
            yield window
            return

        def handler(signum: int, _frame: Any) -> None:
            self.motors_off_from_signal(signal.Signals(signum).name)
            window.arrived(signum)

        old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield window
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            if window.signum is not None and not window.taken:
                signal.raise_signal(window.signum)


class SignalWindow:
    """A signal during a session ends it at once (:class:`SessionStop`), except while the
    window is held: while the session row is being opened or closed, a stop raised there
    would leave the row open, or journal a session cut short as complete. A held signal
    waits for :meth:`take`."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.taken = False
        self.held = False

    def arrived(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signum
        if not self.held:
            stop = self.take()
            if stop is not None:
                raise stop

    def take(self) -> SessionStop | None:
        """The signal that arrived, as the stop it is (once), or None."""
        if self.signum is None or self.taken:
            return None
        self.taken = True
        name = signal.Signals(self.signum).name
        return SessionStop(f"{name} received", SessionState.INCOMPLETE, Code.SIGNAL)

    @contextmanager
    def hold(self) -> Iterator[None]:
        before, self.held = self.held, True
        try:
            yield
        finally:
            self.held = before

    @contextmanager
    def released(self) -> Iterator[None]:
        """Not held: a signal that arrived while held ends the session now."""
        before, self.held = self.held, False
        try:
            stop = self.take()
            if stop is not None:
                raise stop
            yield
        finally:
            self.held = before
