"""The five buttons (OK, Back, Left, Right, Stop) as timestamped events, Stop first.

Each key is a gpiozero ``DigitalInputDevice`` with ``pull_up=True`` (pressed = pin low):
a ``Button`` without its hold thread. That thread waits in real time, so closing a
``Button`` while a key is down blocks for up to ``hold_time`` real seconds, and holds are
computed here from the injected clock anyway. Edges arrive through
gpiozero's callbacks (its callback thread on a Pi; the thread that drives a mock pin in
tests and ``--sim``) and become :class:`Event` s on a thread-safe queue, stamped with the
injected clock.

Design decisions:

* **Software debounce, not gpiozero's** ``bounce_time``: the mock pins ignore
  ``bounce_time`` and backends differ, so the devices are made with ``bounce_time=None``
  and an edge within ``bounce_s`` of the last accepted edge of that key is ignored. The
  first edge is taken at once (a press responds immediately; Stop is never delayed). If
  the pin ends up in another state than the last accepted edge (a tap shorter than
  ``bounce_s``), the next :meth:`Buttons.poll` accepts that state once it has been stable
  for ``bounce_s``.
* **Hold from the injected clock**, not gpiozero's ``when_held``: gpiozero's hold thread
  runs on real time, which a SimClock does not. A ``"hold"`` event is reported once per
  press, stamped ``press time + hold_s``, by :meth:`poll` (which :meth:`wait_for` calls
  every 10 ms) or at the release if nobody polled meanwhile. The ``"press"`` event comes
  first, at the press. Stop has no hold event.
* **Stop has priority everywhere.** An accepted Stop press latches a flag
  (:meth:`stop_requested`, cleared only by :meth:`clear_stop`) and runs the
  :meth:`on_stop` callbacks at once, in the callback thread (the safety layer cuts the
  motors there). :meth:`wait_for` raises :class:`StopPressed` when Stop is pressed during
  the wait, or is still latched when it starts, unless the caller waits for ``"stop"``
  itself: a Stop press can never be taken as, or lost behind, an answer.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Collection
from typing import Any, NamedTuple

from gpiozero import DigitalInputDevice, Factory

from ui_lcd.keys import KEYS

log = logging.getLogger(__name__)

KINDS = ("press", "hold")
POLL_S = 0.01


class Event(NamedTuple):
    key: str
    kind: str  # "press" or "hold"
    t_s: float  # injected-clock time of the press (of the press + hold_s for "hold")


class StopPressed(Exception):
    """Stop was pressed (or is latched) while waiting for other keys."""

    def __init__(self, event: Event) -> None:
        super().__init__(f"Stop pressed at t={event.t_s:.3f} s")
        self.event = event


class _KeyState:
    __slots__ = ("hold_sent", "last_edge_t", "press_t", "pressed", "raw", "raw_t")

    def __init__(self) -> None:
        self.pressed = False  # debounced state
        self.last_edge_t: float | None = None  # last accepted edge
        self.press_t = 0.0
        self.hold_sent = False
        self.raw = False  # the pin as last reported
        self.raw_t = 0.0


class Buttons:
    """Buttons on GPIO ``pins`` (key -> BCM number); keys from :data:`KEYS`.

    ``pin_factory`` (gpiozero's lgpio factory on a Pi, its mock factory in ``--sim``) is
    required: gpiozero's global default would pick a backend by itself, real pins in a
    simulation or the other way round, so the composition root always says which.
    """

    def __init__(
        self,
        pins: dict[str, int],
        clock: Any,
        *,
        pin_factory: Factory,
        bounce_s: float = 0.03,
        hold_s: float = 1.5,
    ) -> None:
        if pin_factory is None:
            raise ValueError(
                "Buttons needs a pin_factory (gpiozero's default Device.pin_factory is never "
                "used): pass the station's"
            )
        unknown = set(pins) - set(KEYS)
        if unknown:
            raise ValueError(f"unknown button(s) {sorted(unknown)}; keys are {', '.join(KEYS)}")
        if not 0 <= bounce_s <= 0.5:
            raise ValueError(f"bounce_s must be 0..0.5 s, got {bounce_s}")
        if not 0.3 <= hold_s <= 10:
            raise ValueError(f"hold_s must be 0.3..10 s, got {hold_s}")
        self.clock = clock
        self.bounce_s = bounce_s
        self.hold_s = hold_s
        self._queue: queue.Queue[Event] = queue.Queue()
        self._lock = threading.Lock()
        self._state = {key: _KeyState() for key in pins}
        self._stop_event: Event | None = None
        self._stop_callbacks: list[Callable[[Event], None]] = []
        self._buttons: dict[str, DigitalInputDevice] = {}
        self.pins = dict(pins)
        try:
            for key, pin in pins.items():
                button = DigitalInputDevice(
                    pin, pull_up=True, bounce_time=None, pin_factory=pin_factory
                )
                button.when_activated = self._callback(key, True)
                button.when_deactivated = self._callback(key, False)
                self._buttons[key] = button
        except Exception:
            self.close()
            raise

    def __repr__(self) -> str:
        pins = ", ".join(f"{k}={p}" for k, p in self.pins.items())
        return f"Buttons({pins}, stop_latched={self._stop_event is not None})"

    def __enter__(self) -> Buttons:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- edges (gpiozero's callback thread) ----------------------------------------------

    def _callback(self, key: str, pressed: bool) -> Callable[[], None]:
        def edge() -> None:
            self._edge(key, pressed)

        return edge

    def _edge(self, key: str, pressed: bool) -> None:
        now = self.clock.now()
        with self._lock:
            st = self._state[key]
            st.raw, st.raw_t = pressed, now
            if pressed == st.pressed:
                return
            if st.last_edge_t is not None and now - st.last_edge_t < self.bounce_s:
                return  # bounce: poll() settles it if the pin stays this way
            events = self._accept(key, st, pressed, now)
        self._deliver(events)

    def _accept(self, key: str, st: _KeyState, pressed: bool, t: float) -> list[Event]:
        """Take a debounced edge (lock held); returns the events it makes."""
        st.pressed, st.last_edge_t = pressed, t
        if pressed:
            st.press_t, st.hold_sent = t, False
            return [Event(key, "press", t)]
        if key != "stop" and not st.hold_sent and t - st.press_t >= self.hold_s:
            st.hold_sent = True
            return [Event(key, "hold", st.press_t + self.hold_s)]
        return []

    def _deliver(self, events: list[Event]) -> None:
        for ev in events:
            if ev.key == "stop" and ev.kind == "press":
                # Latch first (cannot fail), then the callbacks that cut the motors.
                self._stop_event = ev
                for fn in list(self._stop_callbacks):
                    try:
                        fn(ev)
                    except Exception:
                        log.exception("Stop callback %r failed", fn)
            self._queue.put(ev)

    # -- public API ----------------------------------------------------------------------

    def on_stop(self, callback: Callable[[Event], None]) -> None:
        """Run ``callback(event)`` at every accepted Stop press, in the callback thread.

        Keep it short and non-blocking (turn motors off, set a flag). An exception in one
        callback is logged and does not keep the others from running.
        """
        self._stop_callbacks.append(callback)

    def stop_requested(self) -> bool:
        """True from a Stop press until :meth:`clear_stop`."""
        return self._stop_event is not None

    def clear_stop(self) -> None:
        """Forget a handled Stop press (call once the station is back in a safe state)."""
        self._stop_event = None

    def is_pressed(self, key: str) -> bool:
        """The debounced state of ``key``."""
        return self._state[key].pressed

    def flush(self) -> None:
        """Drop queued events (presses made before the current screen); keeps the Stop latch."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def poll(self) -> None:
        """Settle bounced edges and report holds; :meth:`wait_for` calls it every 10 ms."""
        now = self.clock.now()
        events: list[Event] = []
        with self._lock:
            for key, st in self._state.items():
                if st.raw != st.pressed and now - st.raw_t >= self.bounce_s:
                    events += self._accept(key, st, st.raw, st.raw_t)
                if (
                    key != "stop"
                    and st.pressed
                    and not st.hold_sent
                    and now - st.press_t >= self.hold_s
                ):
                    st.hold_sent = True
                    events.append(Event(key, "hold", st.press_t + self.hold_s))
        self._deliver(events)

    def wait_for(
        self,
        keys: Collection[str],
        timeout_s: float,
        kinds: Collection[str] = ("press",),
        since_s: float | None = None,
    ) -> Event | None:
        """Wait up to ``timeout_s`` (clock time) for an event of ``keys`` and ``kinds``.

        Events of other keys or kinds, and events older than ``since_s``, are dropped.
        Returns the event, or None on timeout. Raises :class:`StopPressed` if Stop is
        pressed, or still latched, and ``"stop"`` is not in ``keys``; with ``"stop"`` in
        ``keys`` a new Stop press is returned like any other key.
        """
        wanted = set(keys)
        bad = (wanted - set(KEYS)) | (set(kinds) - set(KINDS))
        if bad:
            raise ValueError(f"unknown key(s) or kind(s) {sorted(bad)}")
        if not 0 <= timeout_s <= 24 * 3600:
            raise ValueError(f"timeout_s must be 0..86400, got {timeout_s}")
        deadline = self.clock.now() + timeout_s
        while True:
            self.poll()
            while True:
                try:
                    ev = self._queue.get_nowait()
                except queue.Empty:
                    break
                if ev.key == "stop" and ev.kind == "press":
                    if "stop" in wanted:
                        return ev
                    raise StopPressed(ev)
                if ev.key in wanted and ev.kind in kinds and (since_s is None or ev.t_s >= since_s):
                    return ev
            latched = self._stop_event
            if latched is not None and "stop" not in wanted:
                raise StopPressed(latched)
            if self.clock.now() >= deadline:
                return None
            self.clock.sleep(POLL_S)

    def close(self) -> None:
        """Close the gpiozero devices (idempotent)."""
        for button in self._buttons.values():
            try:
                button.when_activated = None
                button.when_deactivated = None
                button.close()
            except Exception:
                log.exception("closing button %r failed", button)
        self._buttons.clear()
