"""Vibration dose: W_h weighting (ISO 8041 formula) and A(8) against CLINICAL.md §6.1."""

from __future__ import annotations

import datetime as dt

import pytest

from sensors.dose import DoseLedger, DoseTotals, a8_ms2, weighted_ms2, wh_weight

# CLINICAL.md 6.1 table (computed from the ISO 8041 parameters).
WH_TABLE = {16: 0.892, 31.5: 0.521, 63: 0.256, 100: 0.160, 125: 0.128, 160: 0.0997,
            200: 0.0797, 250: 0.0637, 300: 0.053}  # fmt: skip


@pytest.mark.parametrize(("freq", "expected"), sorted(WH_TABLE.items()))
def test_dose_wh_weighting_matches_the_table(freq: float, expected: float) -> None:
    assert wh_weight(freq) == pytest.approx(expected, rel=0.005)


def test_dose_wh_is_zero_at_dc_and_low_outside_the_band() -> None:
    assert wh_weight(0.0) == 0.0
    assert wh_weight(1.0) < 0.05
    assert wh_weight(5000.0) < 0.01


@pytest.mark.parametrize(
    ("g", "minutes", "a8"), [(2.0, 10, 0.23), (5.0, 30, 0.98), (5.0, 60, 1.38)]
)
def test_dose_a8_matches_the_worked_doses_at_200_hz(g: float, minutes: float, a8: float) -> None:
    totals = DoseTotals()
    totals.add(g, 200.0, minutes * 60)
    assert totals.a8_ms2 == pytest.approx(a8, abs=0.01)


def test_dose_time_to_action_value_at_200_hz() -> None:
    # CLINICAL.md: 20 h at 2 g rms reaches the 2.5 m/s2 action value.
    a_hw = weighted_ms2(2.0, 200.0)
    assert a8_ms2(a_hw**2 * 20 * 3600) == pytest.approx(2.5, rel=0.02)


def test_dose_ledger_counts_per_session_and_per_day_and_rolls_over() -> None:
    day = [dt.date(2025, 3, 1)]
    ledger = DoseLedger(today=lambda: day[0])
    ledger.record(1.0, 150.0, 60.0)
    ledger.begin_session()
    ledger.record(1.0, 150.0, 30.0)
    ledger.record(0.0, 150.0, 30.0)  # no vibration: no time, no dose
    assert ledger.session.vibration_s == 30.0
    assert ledger.vibration_s_today() == 90.0
    saved = ledger.to_dict()
    assert saved["day"] == "2025-03-01" and saved["vibration_s"] == 90.0
    again = DoseLedger(today=lambda: day[0])
    again.restore(saved)
    assert again.vibration_s_today() == 90.0
    assert again.today_totals.a8_ms2 == pytest.approx(ledger.today_totals.a8_ms2)
    day[0] = dt.date(2025, 3, 2)
    assert ledger.vibration_s_today() == 0.0
    stale = DoseLedger(today=lambda: day[0])
    stale.restore(saved)
    assert stale.vibration_s_today() == 0.0


def test_dose_ledger_hands_over_unsaved_dose_per_day_across_midnight() -> None:
    days = [dt.date(2026, 11, 30)]
    ledger = DoseLedger(today=lambda: days[-1])
    ledger.record(1.0, 150.0, 30.0)
    days.append(dt.date(2026, 12, 1))  # the session goes on past midnight
    ledger.record(1.0, 150.0, 10.0)
    unsaved = ledger.take_unsaved()
    assert {d: t.vibration_s for d, t in unsaved.items()} == {days[0]: 30.0, days[1]: 10.0}
    assert ledger.take_unsaved() == {}  # handed over once
    assert ledger.vibration_s_today() == 10.0  # the new day's cap counts the new day only
    ledger.put_back(unsaved)  # storing failed: nothing is lost
    ledger.record(1.0, 150.0, 5.0)
    again = ledger.take_unsaved()
    assert {d: t.vibration_s for d, t in again.items()} == {days[0]: 30.0, days[1]: 15.0}
    assert again[days[1]].energy_m2s3 == pytest.approx(unsaved[days[1]].energy_m2s3 * 1.5)
