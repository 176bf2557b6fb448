"""Screens as frame snapshots (20x4 as four strings), bar glyphs, and the input widgets."""

from __future__ import annotations

import pytest

from ui_lcd.bar import bar_row
from ui_lcd.messages import EN, Msg
from ui_lcd.screens import Screens, TextOverflow, choice_row, fit, wrap
from ui_lcd.widgets import Menu, Rating, YesNo

FULL = (0, 31, 31, 31, 31, 31, 0, 0)
MENU = Menu(("menu.today", "menu.selftest", "menu.settings"))


@pytest.fixture
def s20() -> Screens:
    return Screens("20x4")


@pytest.fixture
def s16() -> Screens:
    return Screens("16x2")


# -- wrapping --------------------------------------------------------------------------


def test_wrap_breaks_between_words_only() -> None:
    assert wrap("Squeeze the pad as hard as you comfortably can", 20) == [
        "Squeeze the pad as",
        "hard as you",
        "comfortably can",
    ]


def test_wrap_newline_starts_a_row_and_spaces_collapse() -> None:
    assert wrap("Rest\nLet  your hand   go", 20) == ["Rest", "Let your hand go"]


def test_wrap_word_longer_than_a_row_raises() -> None:
    with pytest.raises(TextOverflow, match="Handgelenksverletzung"):
        wrap("Keine Handgelenksverletzung", 16)


def test_fit_too_many_rows_raises() -> None:
    with pytest.raises(TextOverflow, match="3 rows needed, 2 available"):
        fit("one\ntwo\nthree", 16, 2)


def test_screens_prompt_overflow_raises_instead_of_truncating(
    s16: Screens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(EN, "session.done", Msg("All done for today.\nThank you, well done!"))
    with pytest.raises(TextOverflow):
        s16.prompt("session.done")


def test_screens_unknown_size_or_language_rejected() -> None:
    with pytest.raises(ValueError, match="20x4"):
        Screens("40x2")
    with pytest.raises(KeyError, match="'xx'"):
        Screens("20x4", "xx")


# -- snapshots, 20x4 -------------------------------------------------------------------


def test_screens_prompt_snapshot(s20: Screens) -> None:
    assert s20.prompt("grip.place", hand="left").lines == (
        "Put your left hand  ",
        "on the grip pad.    ",
        "Press OK when ready,",
        "STOP if it hurts.   ",
    )


def test_screens_prompt_16x2_uses_the_short_variant(s16: Screens) -> None:
    assert s16.prompt("grip.place", hand="left").lines == ("Use left hand.  ", "Ready? Press OK ")


def test_screens_countdown_snapshot(s20: Screens) -> None:
    assert s20.countdown("grip.rest", 15).lines == (
        "Rest                ",
        "Let your hand go    ",
        "loose.              ",
        "        15 s        ",
    )


def test_screens_countdown_negative_rejected(s20: Screens) -> None:
    with pytest.raises(ValueError):
        s20.countdown("grip.rest", -1)


def test_screens_progress_snapshot(s20: Screens) -> None:
    frame = s20.progress("sense.progress", 7, 30)
    # 7/30 of 100 columns = 23: four full cells and a cell with 3 columns lit
    assert frame.lines == (
        "Trial 7 of 30       ",
        "                    ",
        "                    ",
        "\x00\x00\x00\x00\x04" + " " * 15,  # slot 4: the fixed 3-column glyph
    )
    assert frame.glyphs == {0: FULL, 4: (0, 28, 28, 28, 28, 28, 0, 0)}


def test_screens_progress_rejects_done_above_total(s20: Screens) -> None:
    with pytest.raises(ValueError):
        s20.progress("sense.progress", 31, 30)


def test_screens_force_bar_with_band_snapshot(s20: Screens) -> None:
    frame = s20.force_bar("grip.squeeze", 6.3, 10.0, (5.0, 7.0), hand="left")
    assert frame.lines == (
        "Squeeze, left hand! ",
        "As hard as you      ",
        "comfortably can.    ",
        "\x00" * 10 + "\x06\x00\x04\x07" + " " * 6,
    )
    assert frame.glyphs == {
        0: FULL,  # full, in the band or not
        4: (0, 28, 28, 28, 28, 28, 0, 0),  # 3 of 5 columns (its fixed slot)
        6: (16, 31, 31, 31, 31, 31, 16, 16),  # band start tick, full
        7: (1, 1, 1, 1, 1, 1, 1, 31),  # band end tick, empty: underline to the tick
    }


def test_screens_force_bar_rejects_faults(s20: Screens) -> None:
    with pytest.raises(ValueError, match="finite"):
        s20.force_bar("grip.squeeze", float("nan"), 10.0, hand="left")
    with pytest.raises(ValueError, match="full_scale_n"):
        s20.force_bar("grip.squeeze", 1.0, 0.0, hand="left")


def test_screens_two_choice_snapshot(s20: Screens) -> None:
    assert s20.two_choice("sense.which_stronger").lines == (
        "Which buzz felt     ",
        "stronger?           ",
        "                    ",
        "< Left       Right >",
    )


def test_screens_two_choice_16x2_snapshot(s16: Screens) -> None:
    frame = s16.two_choice("sense.which_stronger", "choice.first", "choice.second")
    assert frame.lines == ("Which stronger? ", "< 1st      2nd >")


def test_screens_rating_snapshot(s20: Screens) -> None:
    assert s20.rating("checkin.pain", Rating(3)).lines == (
        "Pain in your hand   ",
        "today?              ",
        "0 = none, 10 = worst",
        "       <  3 >     OK",
    )


def test_screens_rating_starts_unset_without_ok(s20: Screens) -> None:
    """No value to anchor the answer on, and no OK until the patient has moved it."""
    assert s20.rating("checkout.pain", Rating()).lines == (
        "Last one: pain in   ",
        "your hand now?      ",
        "0 = none, 10 = worst",
        "       < -- >       ",
    )
    assert s20.rating("checkout.pain", Rating().press("right")).lines[3] == ("       <  0 >     OK")


def test_screens_rating_16x2_snapshot(s16: Screens) -> None:
    assert s16.rating("check.pain_now", Rating(10)).lines == (
        "Pain now? 0-10  ",
        "     < 10 >   OK",
    )


def test_screens_yes_no_unselected_then_selected(s20: Screens) -> None:
    assert s20.yes_no("checkin.numbness", YesNo()).lines == (
        "Any new numbness or ",
        "tingling?           ",
        "                    ",
        "< No           Yes >",
    )
    assert s20.yes_no("checkin.numbness", YesNo().press("left")).lines[3] == (
        "<[No]    OK    Yes >"
    )
    assert s20.yes_no("checkin.numbness", YesNo().press("right")).lines[3] == (
        "< No    OK    [Yes]>"
    )


def test_screens_menu_snapshot(s20: Screens) -> None:
    assert s20.menu(MENU.press("right")).lines == (
        "Choose, then OK     ",
        "  Today's exercises ",
        "> Check the station ",
        "  Settings          ",
    )


def test_screens_menu_16x2_scrolls_to_the_cursor(s16: Screens) -> None:
    assert s16.menu(MENU).lines == ("Choose, then OK ", "> Exercises     ")
    assert s16.menu(MENU.press("left")).lines == ("Choose, then OK ", "> Settings      ")


def test_screens_error_snapshot(s20: Screens) -> None:
    assert s20.error("error.bus", "E-BUS-121").lines == (
        "Station problem     ",
        "Switch it off and on",
        "again.              ",
        "      Code E-BUS-121",
    )


def test_screens_error_16x2_snapshot(s16: Screens) -> None:
    assert s16.error("error.pads", "E-PAD-02").lines == ("Check pad cable ", "   Code E-PAD-02")


def test_screens_error_code_format_checked(s20: Screens) -> None:
    with pytest.raises(ValueError, match="E-BUS-02"):
        s20.error("error.bus", "bus broke")


def test_choice_row_overflow_raises() -> None:
    with pytest.raises(TextOverflow):
        choice_row(16, "Second", "Second", None)


# -- bar glyphs ------------------------------------------------------------------------


def test_bar_empty_and_full() -> None:
    assert bar_row(20, 0.0) == (" " * 20, {})
    assert bar_row(20, 1.0) == ("\x00" * 20, {0: FULL})
    assert bar_row(20, 3.7) == ("\x00" * 20, {0: FULL})  # above full scale: clamped


def test_bar_partial_cells_resolve_one_column() -> None:
    # Without a band each partial level has its own fixed slot (2..5).
    for columns, pattern in ((1, 0b10000), (2, 0b11000), (3, 0b11100), (4, 0b11110)):
        row, glyphs = bar_row(20, (50 + columns) / 100)
        slot = 1 + columns
        assert row == "\x00" * 10 + chr(slot) + " " * 9
        assert glyphs[slot] == (0, *([pattern] * 5), 0, 0)
    # With a band too, away from the band's ends: same slots, same bitmaps.
    row, glyphs = bar_row(20, 0.53, (0.8, 0.9))
    assert row[10] == "\x04" and glyphs[4] == (0, *([0b11100] * 5), 0, 0)
    # Inside the band the underline stays on the empty cells only.
    row, glyphs = bar_row(20, 0.83, (0.7, 0.95))
    assert row[16:18] == "\x04\x01" and glyphs[4] == (0, *([0b11100] * 5), 0, 0)
    assert glyphs[1] == (0, 0, 0, 0, 0, 0, 0, 0b11111)


def test_bar_without_band_never_redefines_a_glyph() -> None:
    """A moving plain bar changes character codes only: each slot keeps one bitmap."""
    seen: dict[int, tuple[int, ...]] = {}
    for fill in range(101):
        _, glyphs = bar_row(20, fill / 100)
        for slot, bitmap in glyphs.items():
            assert seen.setdefault(slot, bitmap) == bitmap
    assert set(seen) == {0, 2, 3, 4, 5}


def test_bar_narrow_band_in_one_cell_uses_the_both_ends_slot() -> None:
    row, glyphs = bar_row(20, 0.0, (0.51, 0.53))
    assert row == " " * 10 + "\x06" + " " * 9
    # columns 51 and 52 of the cell 50-54: ticks at both, underline between
    assert glyphs == {6: (0b01100,) * 8}


def test_bar_with_a_band_redefines_only_the_band_end_cell_under_the_tip() -> None:
    """Slots 0-5 keep one bitmap whatever the fill; a band-end slot changes only while the
    bar's tip is inside its cell (below and above it, it has one bitmap each)."""
    for lo, hi in ((0.55, 0.75), (0.3, 0.33), (0.51, 0.53), (0.0, 0.2), (0.9, 1.0)):
        seen: dict[int, tuple[int, ...]] = {}
        end_states: dict[tuple[int, str], tuple[int, ...]] = {}
        for fill in range(101):
            row, glyphs = bar_row(20, fill / 100, (lo, hi))
            assert set(glyphs) <= set(range(8))
            for slot, bitmap in glyphs.items():
                if slot < 6:
                    assert seen.setdefault(slot, bitmap) == bitmap, (lo, hi, fill, slot)
                    continue
                cell = row.index(chr(slot))
                if cell * 5 < fill < cell * 5 + 5:
                    continue  # the tip is in this cell: its bitmap follows the fill
                side = "below" if fill <= cell * 5 else "above"
                assert end_states.setdefault((slot, side), bitmap) == bitmap, (lo, hi, fill)


def test_bar_rejects_bad_band() -> None:
    with pytest.raises(ValueError, match="band"):
        bar_row(20, 0.5, (0.7, 0.6))


# -- widgets ---------------------------------------------------------------------------


def test_rating_left_right_clamp_and_confirm() -> None:
    r = Rating(1).press("left").press("left")
    assert r.value == 0
    r = Rating(9).press("right").press("right")
    assert r.value == 10 and not r.confirmed
    r = r.press("ok")
    assert r.confirmed and r.press("left").value == 10  # confirmed answers do not change
    assert Rating(4).press("back").cancelled


def test_rating_starts_unset_and_ok_needs_a_value() -> None:
    r = Rating()
    assert r.value is None and r.answer is None
    assert not r.press("ok").confirmed  # an OK meant for the last screen answers nothing
    assert Rating().press("right").value == 0
    assert Rating().press("left").value == 0  # the first press shows 0 either way
    r = Rating().press("right").press("right").press("right").press("ok")
    assert r.confirmed and r.answer == 2
    assert Rating().press("back").cancelled


def test_rating_out_of_range_rejected() -> None:
    with pytest.raises(ValueError, match=r"0\.\.10"):
        Rating(11)


def test_yes_no_ok_needs_a_selection() -> None:
    assert not YesNo().press("ok").confirmed
    state = YesNo().press("right").press("left").press("ok")
    assert state.confirmed and state.answer is False
    assert YesNo().press("right").press("ok").answer is True
    assert YesNo().press("right").answer is None


def test_menu_wraps_and_chooses() -> None:
    assert MENU.press("left").index == 2
    assert MENU.press("right").press("right").press("right").index == 0
    assert MENU.press("right").press("ok").chosen == "menu.selftest"
    assert MENU.press("back").cancelled


def test_widgets_reject_unknown_keys() -> None:
    with pytest.raises(ValueError, match="stop"):
        Rating(3).press("stop")
