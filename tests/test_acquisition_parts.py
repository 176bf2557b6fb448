"""How the acquisition composes its parts, on the station the product builds: one lock for
the store and the book, the schedule of pad conversions and IMU drains, the fault threshold
reaching both samplers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station import config, hardware
from station.parts import Station


def _station(tmp_path: Path, **sections: dict[str, Any]) -> Station:
    cfg = config.validate({"schema": config.SCHEMA, **sections})
    return hardware.build(cfg, sim=True, data_dir=tmp_path, calibrate_sim=False)


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    with _station(tmp_path, pads={"supply_ref": True}) as st:
        yield st


def test_acquisition_parts_share_one_lock(station: Station) -> None:
    acq = station.acquisition
    assert acq is not None
    assert acq.book.lock is acq.store.lock is acq._lock


def test_acquisition_fault_after_reaches_both_samplers(station: Station) -> None:
    acq = station.acquisition
    assert acq is not None and acq.sampler is not None and acq.drainer is not None
    assert acq.fault_after == acq.sampler.fault_after == acq.drainer.fault_after == 3
    acq.fault_after = 7
    assert acq.sampler.fault_after == acq.drainer.fault_after == 7


def test_acquisition_rotates_each_adc_through_its_inputs_and_the_supply_ref(
    station: Station,
) -> None:
    acq, pads = station.acquisition, station.pads
    assert acq is not None and acq.sampler is not None and pads is not None
    assert acq.sampler.inputs_per_chip == 4 and acq.period_s == pytest.approx(0.0025)
    started: list[list[int]] = [[], []]
    for chip, adc in enumerate(pads.adcs):
        adc.start_single = _spy(adc.start_single, started[chip])
    _run_ticks(station, 9)
    assert started == [[0, 1, 2, 3, 0, 1, 2, 3, 0]] * 2  # the last chip's AIN3: the supply


def test_acquisition_drains_the_imus_in_turn_each_every_drain_period(tmp_path: Path) -> None:
    with _station(tmp_path) as st:
        acq, glove = st.acquisition, st.glove
        assert acq is not None and acq.drainer is not None and glove is not None
        drained: list[str] = []
        glove.drain = _spy(glove.drain, drained)  # type: ignore[method-assign]
        ticks = acq.drainer.drain_every
        assert ticks * acq.period_s == pytest.approx(0.04)  # each IMU every 40 ms
        _run_ticks(st, 2 * ticks)
        assert drained == glove.segments * 2  # one per tick, then idle to the next period


def test_acquisition_glove_alone_drains_one_imu_every_tick(tmp_path: Path) -> None:
    with _station(tmp_path, pads={"fitted": False}) as st:
        acq, glove = st.acquisition, st.glove
        assert acq is not None and acq.sampler is None and glove is not None
        assert acq.period_s == pytest.approx(0.04 / len(glove.segments))
        assert acq.drainer is not None and acq.drainer.drain_every == len(glove.segments)


def _run_ticks(station: Station, n: int) -> None:
    acq = station.acquisition
    assert acq is not None
    with acq:
        station.clock.sleep((n + 0.5) * acq.period_s)
    assert acq.poll_count == n


def _spy(fn: Any, calls: list[Any]) -> Any:
    def spy(arg: Any) -> Any:
        calls.append(arg)
        return fn(arg)

    return spy
