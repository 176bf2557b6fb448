"""Audio cues on an optional buzzer: start, correct, incorrect, rest over.

Each cue is a short sequence of tones (under half a second) on a gpiozero
``TonalBuzzer``, given as semitones from the buzzer's ``mid_tone`` so it stays within the
device's range (``octaves`` >= 1). The sequence is timed with the injected clock and
blocks while it plays; the buzzer is silenced afterwards whatever happens. With no buzzer,
or cues disabled in the config, every cue is a silent no-op.

The sounds are gentle on purpose: "incorrect" is one soft low tone, not a harsh buzz.
A buzzer fault is logged and never interrupts the session: cues are a help, not a
safety function.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

#: Cue name -> steps of (semitones from mid_tone, or None for silence; seconds).
SEQUENCES: dict[str, tuple[tuple[int | None, float], ...]] = {
    "start": ((-5, 0.10), (None, 0.04), (0, 0.15)),
    "correct": ((4, 0.08), (7, 0.12)),
    "incorrect": ((-5, 0.25),),
    "rest_over": ((0, 0.10), (None, 0.08), (0, 0.10), (None, 0.08), (0, 0.10)),
}


class Cues:
    """``buzzer``: a gpiozero ``TonalBuzzer`` or None; ``enabled``: the config switch."""

    def __init__(self, buzzer: Any, clock: Any, enabled: bool = True) -> None:
        self.buzzer = buzzer
        self.clock = clock
        self.enabled = enabled
        self.played: list[tuple[float, str]] = []  # (clock time, cue) of every cue sounded

    def __repr__(self) -> str:
        return (
            f"Cues(buzzer={'yes' if self.buzzer is not None else 'none'}, enabled={self.enabled})"
        )

    @property
    def active(self) -> bool:
        return self.enabled and self.buzzer is not None

    def play(self, name: str) -> None:
        """Sound cue ``name`` (see :data:`SEQUENCES`); ``ValueError`` for an unknown name."""
        if name not in SEQUENCES:
            raise ValueError(f"unknown cue {name!r}; cues are {', '.join(SEQUENCES)}")
        if not self.active:
            return
        self.played.append((self.clock.now(), name))
        mid = self.buzzer.mid_tone
        try:
            for semitones, seconds in SEQUENCES[name]:
                if semitones is None:
                    self.buzzer.stop()
                else:
                    tone = mid.up(semitones) if semitones >= 0 else mid.down(-semitones)
                    self.buzzer.play(tone)
                self.clock.sleep(seconds)
        except Exception:
            log.exception("audio cue %r failed", name)
        finally:
            try:
                self.buzzer.stop()
            except Exception:
                log.exception("could not silence the buzzer")

    def start(self) -> None:
        self.play("start")

    def correct(self) -> None:
        self.play("correct")

    def incorrect(self) -> None:
        self.play("incorrect")

    def rest_over(self) -> None:
        self.play("rest_over")
