"""The message catalogue: every message fits both displays; lookups fail loudly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ui_lcd import messages
from ui_lcd.frame import SIZES
from ui_lcd.messages import EN, Msg, text
from ui_lcd.screens import Screens, TextOverflow

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("key", messages.keys())
def test_messages_every_message_fits_without_cutting(key: str, size: str) -> None:
    frame = Screens(size).sample(key)  # raises TextOverflow if anything would be cut
    cols, rows = SIZES[size]
    assert (frame.cols, frame.rows) == (cols, rows)


@pytest.mark.parametrize("key", messages.keys())
def test_messages_longest_values_declared_for_every_placeholder(key: str) -> None:
    msg = EN[key]
    needed = messages.placeholders(msg.text)
    for variant in msg.variants.values():
        assert messages.placeholders(variant) <= needed, "a variant asks for a new parameter"
    declared = set(msg.longest)
    if msg.layout == "progress":
        declared |= {"done", "total"}
    assert needed <= declared, f"declare the longest value of {needed - declared}"
    assert msg.layout in messages.LAYOUTS
    assert set(msg.variants) <= set(SIZES)


def test_messages_sample_catches_a_message_that_would_be_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    long = Msg(
        "Please put your hand on the grip pad and keep it there, quite still,"
        " until the very end of it all."
    )
    monkeypatch.setitem(EN, "grip.place", long)
    with pytest.raises(TextOverflow):
        Screens("20x4").sample("grip.place")


def test_messages_sample_catches_a_long_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    msg = EN["grip.progress"]
    monkeypatch.setitem(EN, "grip.progress", msg._replace(longest={**msg.longest, "trial": 10**14}))
    with pytest.raises(TextOverflow):
        Screens("16x2").sample("grip.progress")


def test_messages_text_formats_parameters() -> None:
    assert text("grip.place", hand="left").startswith("Put your left hand on the grip pad.")


def test_messages_size_variant_and_fallback() -> None:
    assert text("checkin.pain", size="16x2") == "Pain today? 0-10"
    assert text("checkin.pain", size="20x4") == EN["checkin.pain"].text
    assert text("encourage.well_done", size="16x2") == EN["encourage.well_done"].text


def test_messages_missing_key_raises_naming_it() -> None:
    with pytest.raises(KeyError, match=r"grip\.nope"):
        text("grip.nope")


def test_messages_missing_parameter_raises_naming_it() -> None:
    with pytest.raises(KeyError, match=r"grip\.place.*hand"):
        text("grip.place")


def test_messages_unknown_language_raises() -> None:
    with pytest.raises(KeyError, match="'xx'"):
        text("session.done", lang="xx")


def test_messages_translation_falls_back_to_english_per_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(messages.LANGUAGES, "de", {"session.done": Msg("Fertig für heute.")})
    assert text("session.done", lang="de") == "Fertig für heute."
    assert text("session.paused", lang="de") == EN["session.paused"].text


def test_messages_every_key_the_station_uses_exists() -> None:
    pattern = re.compile(r'"((?:session|checkin|check|checkout|grip|sense|rest|error)\.[a-z_]+)"')
    used = set()
    for path in (ROOT / "station").rglob("*.py"):
        used |= set(pattern.findall(path.read_text(encoding="utf-8")))
    assert used, "the pattern found no keys: the test would prove nothing"
    assert used - set(EN) == set()


def test_messages_only_the_force_bar_screens_say_squeeze() -> None:
    # The virtual patient squeezes whenever it reads "squeeze" (and no "rest").
    for size in (None, *SIZES):
        saying = {k for k in EN if "squeeze" in text(k, size=size, **EN[k].longest).lower()}
        assert "grip.squeeze" in saying
        for key in saying:
            assert EN[key].layout == "bar", key
            assert "rest" not in text(key, size=size, **EN[key].longest).lower(), key


def test_messages_pain_questions_say_when() -> None:
    # Before the session the question is about today; later ones are about now.
    for size in (None, *SIZES):
        assert "today" in text("checkin.pain", size=size).lower()
        for key in ("check.pain_now", "checkout.pain"):
            later = text(key, size=size).lower()
            assert "pain" in later
            assert not any(w in later for w in ("today", "before", "start"))


def test_messages_the_grip_screen_names_the_stop_button() -> None:
    # "Stop if it hurts" did not say how: the patient is told which button.
    assert "press ok when ready, stop if it hurts" in text("grip.place", hand="left").lower()
    assert "STOP" in text("grip.place", hand="left")
