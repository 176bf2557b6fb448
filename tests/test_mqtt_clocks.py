"""The clock seam of the MQTT bridge and the journal: one text form, a clock moved by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from mqtt_bridge import clocks
from mqtt_bridge.clocks import ManualClock


def test_mqtt_clocks_iso_utc_is_milliseconds_with_a_z() -> None:
    t = dt.datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=dt.UTC)
    assert clocks.iso_utc(t) == "2026-11-20T10:00:00.123Z"
    # another zone is written as the same instant in UTC
    cet = dt.timezone(dt.timedelta(hours=1))
    assert (
        clocks.iso_utc(dt.datetime(2026, 11, 20, 11, 0, tzinfo=cet)) == "2026-11-20T10:00:00.000Z"
    )


def test_mqtt_clocks_iso_utc_refuses_a_naive_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        clocks.iso_utc(dt.datetime(2026, 11, 20, 10, 0))


def test_mqtt_clocks_parse_iso_round_trips_and_takes_naive_as_utc() -> None:
    t = dt.datetime(2026, 11, 20, 10, 0, 0, 123000, tzinfo=dt.UTC)
    assert clocks.parse_iso(clocks.iso_utc(t)) == t
    assert clocks.parse_iso("2026-11-20T10:00:00") == dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        clocks.parse_iso("yesterday")


def test_mqtt_clocks_real_wall_clock_is_aware_utc() -> None:
    now = clocks.utc_now()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)


def test_mqtt_clocks_manual_clock_moves_only_when_told() -> None:
    c = ManualClock(dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC), monotonic_s=5.0)
    assert (c.monotonic(), clocks.iso_utc(c.wall())) == (5.0, "2026-11-20T10:00:00.000Z")
    assert (c.monotonic(), c.wall()) == (5.0, dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC))
    c.advance(3 * 3600 + 0.5)
    assert c.monotonic() == 5.0 + 3 * 3600 + 0.5
    assert clocks.iso_utc(c.wall()) == "2026-11-20T13:00:00.500Z"


def test_mqtt_clocks_manual_wall_step_leaves_the_monotonic_clock() -> None:
    """An NTP step (or a Pi without an RTC setting its clock after boot) moves the wall
    clock alone; backoffs on the monotonic clock must not see it."""
    c = ManualClock(monotonic_s=0.0)
    start = c.wall()
    c.step_wall(-86400.0)
    assert c.monotonic() == 0.0 and c.wall() == start - dt.timedelta(days=1)


def test_mqtt_clocks_manual_clock_refuses_to_go_back_or_start_naive() -> None:
    c = ManualClock()
    with pytest.raises(ValueError, match="forward"):
        c.advance(-1.0)
    with pytest.raises(ValueError, match="timezone-aware"):
        ManualClock(dt.datetime(2026, 11, 20, 10, 0))
