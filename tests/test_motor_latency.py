"""The motor tasks' biofeedback loop: redrawn on every new pad sample, with each frame's
timing kept; the station's own latency computed from those frames; on the simulated
station the bar follows a force step and a moving band within the goals (p50 < 30 ms,
p99 < 50 ms; the error it adds for a perfect patient under 5 % of the target's RMS), all
on the simulated clock: figures of behaviour, not of the host's speed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import SimCalibrations
from motor_bar import bar_station_set
from test_session_e2e import Stations

from station import bench
from station.protocols.motor.feedback import GIVE_UP, latency, wait_for_sample


@pytest.fixture
def bar_stations(tmp_path: Path, sim_calibrations: SimCalibrations) -> Iterator[Stations]:
    yield from bar_station_set(tmp_path, sim_calibrations)


class StepClock:
    """A clock that only moves when slept on, with samples arriving at set times."""

    def __init__(self, samples: list[float]) -> None:
        self.t = 0.0
        self.samples = samples
        self.checks = 0

    def now(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s

    def newest(self) -> Callable[[], float | None]:
        return lambda: max((x for x in self.samples if x <= self.t), default=None)

    def check(self) -> None:
        self.checks += 1


def test_latency_target_age_is_drawing_time_plus_half_the_frame_interval() -> None:
    done = np.arange(10) * 0.010 + 0.004
    frames = np.column_stack([done - 0.006, done - 0.004, done])  # sample, start, done
    lat = latency(frames)
    assert lat.frames == 10
    assert lat.force_p50_ms == pytest.approx(6.0) and lat.force_p99_ms == pytest.approx(6.0)
    assert lat.target_ms == pytest.approx(4.0 + 5.0)
    assert latency(np.empty((0, 3))).target_ms is None


def test_wait_for_sample_returns_with_the_next_sample_not_a_fixed_period() -> None:
    clock = StepClock([0.0, 0.010, 0.020])
    clock.t = 0.002
    wait_for_sample(clock, clock.newest(), 0.0, 0.010, clock.check)
    assert 0.010 <= clock.t <= 0.0115  # the sample at 10 ms, not 12 ms
    assert clock.checks >= 1  # Stop, pause and the session cap are checked while waiting


def test_wait_for_sample_gives_up_on_a_stalled_pad_and_waits_a_period_without_times() -> None:
    clock = StepClock([0.0])
    wait_for_sample(clock, clock.newest(), 0.0, 0.010, clock.check)
    assert clock.t == pytest.approx(0.010 * (1 + GIVE_UP), abs=0.0015)  # bounded
    blind = StepClock([])
    wait_for_sample(blind, lambda: None, None, 0.010, blind.check)
    assert blind.t == pytest.approx(0.010, abs=0.0015)


def test_the_bar_follows_a_step_and_a_moving_band_within_the_goals(
    bar_stations: Stations,
) -> None:
    app = bar_stations.open()
    paced = bench.biofeedback_latency(app, steps=5)
    fixed = bench.biofeedback_latency(app, steps=5, paced=False)
    assert paced["ninety_percent"]["p50_ms"] < bench.PACED_GOAL_P50_S * 1e3
    assert paced["ninety_percent"]["p99_ms"] < bench.PACED_GOAL_P99_S * 1e3
    assert paced["ninety_percent"]["p50_ms"] < fixed["ninety_percent"]["p50_ms"] - 20
    t = bench.tracking_latency(app, seconds=6.0)
    lat = t["force_to_lcd"]
    assert lat["force_p50_ms"] < bench.PACED_GOAL_P50_S * 1e3
    assert lat["force_p99_ms"] < bench.PACED_GOAL_P99_S * 1e3
    assert 0 < lat["target_ms"] < 30
    assert t["frames"] > 0.5 * 100 * (6.0 + 2.0)  # most pad samples got their frame
    assert 0 < t["added_error_pct_of_rms"] < t["added_error_goal_pct"]
