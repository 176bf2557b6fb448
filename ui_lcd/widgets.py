"""Small state objects for the screens that take button input: rating, yes/no, menu.

Each is immutable: ``press(key)`` returns the next state, so a session loop is
``state = state.press(event.key)`` until ``state.confirmed`` (or ``cancelled``), and the
screen is re-rendered from the state. Keys are the button names of
:class:`ui_lcd.buttons.Buttons`: ``"ok"``, ``"back"``, ``"left"``, ``"right"`` (Stop never
reaches a widget: it is handled with priority by the buttons layer).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

KEYS = ("ok", "back", "left", "right")


def _check_key(key: str) -> None:
    if key not in KEYS:
        raise ValueError(f"key must be one of {', '.join(KEYS)}; got {key!r}")


@dataclass(frozen=True)
class Rating:
    """A 0-10 rating (pain NRS): Left lowers, Right raises, OK confirms, Back cancels.

    It starts unset (``value`` None) and OK does nothing until the patient has moved it:
    a value shown at the start (the last answer, say) anchors the answer. The first Left
    or Right press shows 0. The value stops at the ends instead of wrapping: a wrap from 0
    to 10 on one press too many would record the worst pain for someone who has none.
    """

    value: int | None = None
    low: int = 0
    high: int = 10
    confirmed: bool = False
    cancelled: bool = False

    def __post_init__(self) -> None:
        if self.value is not None and not self.low <= self.value <= self.high:
            raise ValueError(f"rating must be {self.low}..{self.high}, got {self.value}")

    @property
    def answer(self) -> int | None:
        """The confirmed value, or None while unanswered."""
        return self.value if self.confirmed else None

    def press(self, key: str) -> Rating:
        _check_key(key)
        if self.confirmed or self.cancelled:
            return self
        if key in ("left", "right"):
            step = -1 if key == "left" else 1
            moved = self.low if self.value is None else self.value + step
            return replace(self, value=min(self.high, max(self.low, moved)))
        if key == "ok":
            return replace(self, confirmed=self.value is not None)
        return replace(self, cancelled=True)


@dataclass(frozen=True)
class YesNo:
    """A yes/no answer: Left selects No, Right selects Yes, OK confirms, Back cancels.

    Nothing is selected at first and OK does nothing until something is, so an OK meant for
    the previous screen cannot answer this one.
    """

    selected: bool | None = None
    confirmed: bool = False
    cancelled: bool = False

    @property
    def answer(self) -> bool | None:
        """The confirmed answer, or None while unanswered."""
        return self.selected if self.confirmed else None

    def press(self, key: str) -> YesNo:
        _check_key(key)
        if self.confirmed or self.cancelled:
            return self
        if key == "left":
            return replace(self, selected=False)
        if key == "right":
            return replace(self, selected=True)
        if key == "ok":
            return replace(self, confirmed=self.selected is not None)
        return replace(self, cancelled=True)


@dataclass(frozen=True)
class Menu:
    """A list of catalogue keys with a cursor: Right = next, Left = previous (both wrap
    around, as the list is short), OK chooses, Back leaves."""

    items: tuple[str, ...]
    index: int = 0
    chosen: str | None = None
    cancelled: bool = False

    def __post_init__(self) -> None:
        if not self.items:
            raise ValueError("a menu needs at least one item")
        if not 0 <= self.index < len(self.items):
            raise ValueError(f"menu index must be 0..{len(self.items) - 1}, got {self.index}")

    def press(self, key: str) -> Menu:
        _check_key(key)
        if self.chosen is not None or self.cancelled:
            return self
        n = len(self.items)
        if key == "right":
            return replace(self, index=(self.index + 1) % n)
        if key == "left":
            return replace(self, index=(self.index - 1) % n)
        if key == "ok":
            return replace(self, chosen=self.items[self.index])
        return replace(self, cancelled=True)
