"""The session's user interface: the protocols' UiPort over the LCD, the buttons and cues.

Every screen comes from :class:`ui_lcd.screens.Screens` (so from the message catalogue);
:class:`SessionUi` shows it on the LCD (and on an optional mirror, the terminal in
``run --sim``) and reads the answer from the buttons. While it waits for a press it calls
``check`` at least every :data:`SLICE_S` of clock time: the runner binds it to the
session's check (watchdog heartbeat, Stop, session-length cap), so a question left on the
screen never starves the watchdog or outlives the session cap. A press made before a
screen appeared never answers it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Any

from ui_lcd.bar import band_centre, band_half_width
from ui_lcd.buttons import Buttons, Event, StopPressed
from ui_lcd.cues import Cues
from ui_lcd.frame import Frame
from ui_lcd.screens import TWO_BAR_BAND, Screens
from ui_lcd.widgets import Rating, YesNo

log = logging.getLogger(__name__)

#: Longest clock time between two ``check`` calls while waiting for a button.
SLICE_S = 0.1


class SessionUi:
    """Implements :class:`station.protocols.base.UiPort`."""

    def __init__(
        self,
        screens: Screens,
        clock: Any,
        buttons: Buttons,
        display: Any = None,
        cues: Cues | None = None,
        mirrors: Collection[Any] = (),
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.screens = screens
        self.clock = clock
        self.buttons = buttons
        self.display = display
        self.cues = cues
        self.mirrors = list(mirrors)
        self._on_stop = on_stop
        self._check: Callable[[], None] | None = None
        self.frames_shown = 0
        self.last_frame: Frame | None = None

    def pause_requested(self) -> bool:
        """Back is held down (checked between the waits of a protocol)."""
        return self.buttons.is_pressed("back")

    def bind(self, check: Callable[[], None] | None) -> None:
        """Call ``check`` while waiting (None: nothing to call, outside a session)."""
        self._check = check

    # -- showing ---------------------------------------------------------------------------

    def show(self, frame: Frame) -> None:
        if self.display is not None:
            self.display.show(frame)
        for mirror in self.mirrors:
            try:
                mirror.show(frame)
            except Exception:
                log.exception("mirror %r failed", mirror)
        self.frames_shown += 1
        self.last_frame = frame

    def prompt(self, key: str, **params: Any) -> None:
        self.show(self.screens.prompt(key, **params))

    def error(self, key: str, code: str) -> None:
        self.show(self.screens.error(key, code))

    def progress(self, key: str, done: int, total: int, **params: Any) -> None:
        self.show(self.screens.progress(key, done, total, **params))

    def countdown(self, key: str, seconds: int, wait: Callable[[float], None]) -> None:
        for left in range(max(0, seconds), 0, -1):
            self.show(self.screens.countdown(key, left))
            wait(1.0)

    def biofeedback(
        self,
        title_key: str,
        force_n: float,
        full_scale_n: float,
        band: tuple[float, float] | None = None,
        **params: Any,
    ) -> None:
        self.show(
            self.screens.force_bar(title_key, max(0.0, force_n), full_scale_n, band, **params)
        )

    def biofeedback2(
        self,
        title_key: str,
        forces_n: tuple[float, float],
        targets_n: tuple[float | None, float | None],
        full_scale_n: float,
        shown: tuple[bool, bool] = (True, True),
        **params: Any,
    ) -> None:
        """Both hands' forces (left, right) on the two-bar screen. A bar with a target is
        scaled so that the target sits in the middle of its band (shown where ``shown``),
        so the two bands line up whatever the hands' targets; a bar without one shows its
        force of ``full_scale_n``. Raises ``ValueError`` for a scale or target <= 0."""
        fills = []
        for force, target in zip(forces_n, targets_n, strict=True):
            scale = full_scale_n if target is None else target / two_bar_centre(self.screens)
            if not scale > 0:
                raise ValueError(f"a bar's scale must be > 0 N, got {scale}")
            fills.append(max(0.0, force) / scale)
        marked = (
            shown[0] and targets_n[0] is not None,
            shown[1] and targets_n[1] is not None,
        )
        self.show(self.screens.two_bars(title_key, (fills[0], fills[1]), marked, **params))

    def cue(self, name: str) -> None:
        if self.cues is not None:
            self.cues.play(name)

    # -- asking ----------------------------------------------------------------------------

    def ask_ok(
        self, key: str, timeout_s: float, *, back: bool = True, **params: Any
    ) -> bool | None:
        """OK -> True, Back -> False (only with ``back``), nobody -> None."""
        since = self.clock.now()
        self.prompt(key, **params)
        ev = self._wait(("ok", "back") if back else ("ok",), timeout_s, since)
        return None if ev is None else ev.key == "ok"

    def ask_yes_no(self, key: str, timeout_s: float) -> bool | None:
        return self._ask_widget(
            lambda s: self.screens.yes_no(key, s), YesNo(), lambda s: s.answer, timeout_s
        )

    def ask_rating(self, key: str, timeout_s: float) -> int | None:
        """Unset at first (no earlier answer to anchor on); Left/Right move the value, OK
        confirms a value; ``timeout_s`` counts from the last press."""
        return self._ask_widget(
            lambda s: self.screens.rating(key, s), Rating(), lambda s: s.answer, timeout_s
        )

    def _ask_widget(
        self,
        render: Callable[[Any], Frame],
        state: Any,
        answer: Callable[[Any], Any],
        timeout_s: float,
    ) -> Any:
        """Show ``render(state)``, feed Left/Right/OK to the widget until ``answer(state)``
        is not None; None when nobody pressed for ``timeout_s``."""
        since = self.clock.now()
        while True:
            self.show(render(state))
            ev = self._wait(("left", "right", "ok"), timeout_s, since)
            if ev is None:
                return None
            since = ev.t_s
            state = state.press(ev.key)
            result = answer(state)
            if result is not None:
                return result

    def ask_choice(self, key: str, timeout_s: float, left: str, right: str) -> Event | None:
        """A forced two-choice (no OK): the press is the answer and its time the response."""
        since = self.clock.now()
        self.show(self.screens.two_choice(key, left, right))
        return self._wait(("left", "right"), timeout_s, since)

    def _wait(self, keys: Collection[str], timeout_s: float, since: float) -> Event | None:
        deadline = self.clock.now() + timeout_s
        while True:
            if self._check is not None:
                self._check()
            remaining = deadline - self.clock.now()
            if remaining <= 0:
                return None
            try:
                ev = self.buttons.wait_for(keys, min(SLICE_S, remaining), since_s=since)
            except StopPressed:
                if self._on_stop is not None:
                    self._on_stop()  # raises SessionStop inside a session
                raise
            if ev is not None:
                return ev


def two_bar_centre(screens: Screens) -> float:
    """Where a target sits on a two-bar screen's bar (fraction of its scale)."""
    return band_centre(screens.cols - 3, TWO_BAR_BAND)


def two_bar_band_rel(screens: Screens) -> float:
    """The two-bar band's half-width relative to the target (0.2: target ±20 %)."""
    return band_half_width(screens.cols - 3, TWO_BAR_BAND) / two_bar_centre(screens)
