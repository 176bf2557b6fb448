"""Shared fixtures: a simulated clock and station bus for the driver tests; calibration
records of simulated stations, made once per test run; MQTT: a real mosquitto per test
(``tests/mqtt_broker.py``)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_broker import Broker, BrokerAuth, BrokerError, Pki, make_pki

from drivers.sim.bus import SimI2CBus
from drivers.sim.clock import SimClock
from station import config as config_mod


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: two workers per core. About half of the suite's wall time is spent
    waiting (brokers restarting, station and clinic processes, TLS handshakes, reconnect
    back-off), so one worker per core leaves the cores idle for much of the run."""
    return 2 * len(os.sched_getaffinity(0))


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist, rewrite the test modules' asserts once, not once per worker.

    Each worker imports every test module, and pytest's assert rewriting costs ~5 s of CPU
    a process: with four workers on two cores that alone delayed the first test by ~10 s.
    The workers and this (controlling) process keep the rewritten modules in
    ``.pytest_cache/rewritten`` (also when the environment sets PYTHONDONTWRITEBYTECODE,
    which keeps pytest from writing its cache), which the controller fills before the
    workers start, on every core. A pyc is checked against its source's hash when read, so
    a stale one is rewritten as usual."""
    xdist = getattr(config.option, "numprocesses", None)
    worker = hasattr(config, "workerinput")
    if not (worker or xdist):
        return
    try:
        from _pytest.assertion import rewrite

        cache = config.rootpath / ".pytest_cache" / "rewritten"
        default = rewrite.get_cache_dir

        def get_cache_dir(file_path: Path) -> Path:
            if file_path.is_relative_to(config.rootpath):
                return cache / file_path.parent.relative_to(config.rootpath)
            return default(file_path)

        rewrite.get_cache_dir = get_cache_dir  # only where pytest keeps rewritten modules
        if not worker:
            _rewrite_test_modules(config)
    except Exception as exc:  # only a speed-up: the workers rewrite as usual
        print(f"conftest: test modules not rewritten ahead ({exc!r})", file=sys.stderr)


def _rewrite_test_modules(config: pytest.Config) -> None:
    """Fill the pyc cache with the rewritten test modules, in one process per core."""
    from _pytest.assertion.rewrite import (
        PYC_TAIL,
        _read_pyc,
        _rewrite_test,
        _write_pyc,
        assertstate_key,
        get_cache_dir,  # the one pytest_configure put in
    )

    if assertstate_key not in config.stash:  # --assert=plain: nothing is rewritten
        return
    state = config.stash[assertstate_key]
    todo = []
    for fn in sorted((config.rootpath / "tests").glob("test_*.py")):
        pyc = get_cache_dir(fn) / (fn.name[:-3] + PYC_TAIL)
        if _read_pyc(fn, pyc) is None:
            todo.append((fn, pyc))
    if not todo:
        return
    get_cache_dir(todo[0][0]).mkdir(parents=True, exist_ok=True)
    n = min(len(os.sched_getaffinity(0)), len(todo))

    def rewrite(share: list[tuple[Path, Path]]) -> None:
        for fn, pyc in share:
            source_hash, co = _rewrite_test(fn, config)
            _write_pyc(state, co, source_hash, pyc)

    children = []
    for i in range(1, n):
        pid = os.fork()
        if pid == 0:  # a child: its share, then out without running any cleanup
            try:
                rewrite(todo[i::n])
            finally:
                os._exit(0)
        children.append(pid)
    rewrite(todo[0::n])
    for pid in children:
        os.waitpid(pid, 0)


#: The suite's longest tests with rough durations (s, 2 idle cores; only their order and
#: rough size matter): each starts first on a worker (see pytest_collection_modifyitems).
#: The MQTT chaos test is mostly waiting, the others whole simulated sessions.
LONG_TESTS = {
    "tests/test_mqtt_chaos.py::test_mqtt_chaos_no_summary_lost_or_duplicated": 45,
    "tests/test_session_faults.py::"
    "test_session_glove_unplugged_during_grip_work_does_not_end_it": 9,
    "tests/test_station_process.py::test_bench_sim_json_figures": 21,
    "tests/test_session_outcomes.py::"
    "test_session_no_squeeze_twice_after_a_re_prompt_gives_the_hand_up_not_complete": 12,
    "tests/test_station_process.py::"
    "test_sigkill_mid_session_then_restart_delivers_partial_summary_once": 11,
    "tests/test_session_faults.py::"
    "test_session_a_pad_unplugged_and_back_at_the_menu_is_no_fault_of_the_session": 10,
    "tests/test_session_pause.py::test_session_pause_nobody_back_ends_incomplete": 9,
    "tests/test_session_faults.py::"
    "test_session_an_unplugged_pad_no_protocol_reads_does_not_block_the_tare": 9,
    "tests/test_app_lifecycle.py::test_run_sim_connects_to_the_broker_once": 8,
    "tests/test_mqtt_plans.py::test_mqtt_plans_fuzz_parse_plan_only_raises_plan_rejected": 8,
    "tests/test_session_e2e.py::"
    "test_typical_patient_completes_and_the_measured_grip_is_the_truth": 8,
    "tests/test_station_process.py::"
    "test_run_sim_json_session_is_valid_and_measures_the_true_forces": 8,
    "tests/test_run_service.py::test_run_service_menu_session_and_sigterm": 7,
    "tests/test_session_e2e.py::"
    "test_inattentive_patient_gets_a_missed_try_again_and_reacts_slower": 6,
    "tests/test_sensory_session.py::"
    "test_sensory_assessment_measures_the_true_threshold_and_a_weak_motor_shows": 9,
    "tests/test_sensory_session.py::"
    "test_sensory_prior_carries_over_and_a_changed_patient_is_not_trapped": 8,
    "tests/test_sensory_session.py::"
    "test_sensory_training_gives_feedback_and_works_near_80_percent": 4,
    "tests/test_motor_tracking.py::"
    "test_tracking_measures_the_patients_lag_and_error_without_the_stations_latency": 3,
    "tests/test_motor_steadiness.py::"
    "test_steadiness_a_cv_that_doubles_stops_force_work_and_a_paused_hold_does_not_count": 3,
    "tests/test_motor_sustained.py::"
    "test_sustained_hold_fatigue_resistance_then_fatigue_index_to_the_hard_limit": 4,
    "tests/test_motor_finger_rom.py::"
    "test_finger_rom_measures_each_finger_and_a_tremor_within_tolerance": 5,
    "tests/test_motor_finger_rom.py::"
    "test_finger_rom_the_glove_unplugged_ends_only_this_protocol": 4,
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, order the tests so that each worker starts on the longest ones.

    ``--dist worksteal`` hands each of the W workers a contiguous share of the collection
    (sizes ``len // W``, then of the rest) and lets idle workers take the tail of a busy
    one's queue. A long test late in a share starts late and stretches the wall time, so
    the :data:`LONG_TESTS` are dealt to the shares' heads, longest first to the share with
    the least of them so far; the other tests keep their order. Deterministic: every worker
    must collect the same order."""
    workers = getattr(config, "workerinput", {}).get("workercount", 0)
    if workers < 2:
        return
    long_items = sorted(
        (it for it in items if it.nodeid in LONG_TESTS),
        key=lambda it: (-LONG_TESTS[it.nodeid], it.nodeid),
    )
    if not long_items:
        return
    sizes, left = [], len(items)
    for i in range(workers):  # xdist's WorkStealingScheduling.check_schedule shares
        sizes.append(left // (workers - i))
        left -= sizes[-1]
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for it in long_items:
        w = min((w for w in range(workers) if len(heads[w]) < sizes[w]), key=lambda w: load[w])
        heads[w].append(it)
        load[w] += LONG_TESTS[it.nodeid]
    placed = {id(it) for it in long_items}
    rest = iter([it for it in items if id(it) not in placed])
    ordered: list[pytest.Item] = []
    for w in range(workers):
        ordered += heads[w]
        ordered += [next(rest) for _ in range(sizes[w] - len(heads[w]))]
    items[:] = ordered


@pytest.fixture
def clock() -> SimClock:
    """A fresh simulated clock at 0 s."""
    return SimClock()


@pytest.fixture
def bus(clock: SimClock) -> SimI2CBus:
    """The station bus as the driver tests use it: simulated, 400 kHz, on ``clock``."""
    return SimI2CBus(clock, speed_hz=400_000, name="station")


#: Config sections the simulated technician's records do not depend on.
_NOT_CALIBRATION = ("station", "data", "mqtt", "safety")


class SimCalibrations:
    """Calibration records of simulated stations, made by the simulated technician once per
    (config, seed) and copied into each test's data directory.

    The simulation is deterministic, so the records are the ones a station opened in the
    test's own directory would make (but for their date): the test then starts at once
    instead of loading nine weights on every pad and calibrating every motor first."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[str, Path] = {}

    def records(self, cfg: config_mod.Config, seed: int) -> Path:
        """The directory of calibration records of station ``cfg`` with world ``seed``."""
        from station.app import App

        parts = {k: v for k, v in cfg.values.items() if k not in _NOT_CALIBRATION}
        text = json.dumps([parts, seed], sort_keys=True, default=str)
        key = hashlib.sha256(text.encode()).hexdigest()[:16]
        if key not in self._made:
            d = self.root / f"seed{seed}-{key}"
            with _locked(self.root / f"seed{seed}-{key}.lock"):  # another worker's, once
                done = d / ".made"
                if not done.exists():
                    shutil.rmtree(d, ignore_errors=True)  # half made by a worker that died
                    App(cfg, d, sim=True, seed=seed).open().close()
                    records = d / "calibration"
                    assert any(records.glob("pad-*.json")), sorted(records.iterdir())
                    done.touch()
            self._made[key] = d / "calibration"
        return self._made[key]

    def data_dir(self, data_dir: Path, cfg: config_mod.Config, seed: int) -> Path:
        """``data_dir`` (made if missing) with the records of ``cfg`` and ``seed`` in it."""
        data_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.records(cfg, seed), data_dir / "calibration")
        return data_dir


@pytest.fixture(scope="session")
def sim_calibrations(tmp_path_factory: pytest.TempPathFactory) -> SimCalibrations:
    """Calibration records of simulated stations, made once per test run for each config
    and seed asked for: under xdist in a directory the workers share, the first worker to
    need a station's records makes them while the others wait."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = base.parent / "sim-calibrations"  # the run's directory, above the workers'
        root.mkdir(exist_ok=True)
        return SimCalibrations(root)
    return SimCalibrations(tmp_path_factory.mktemp("sim-calibrations"))


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing) across processes."""
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _start(make: object) -> Broker:
    try:
        return make()  # type: ignore[operator]
    except BrokerError as exc:  # missing tool or broker crash: fail loudly, never skip
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A plain anonymous mosquitto on a free loopback port, persistence in ``tmp_path``.

    ``broker.url``, ``broker.port``, ``broker.stop(sig)``, ``broker.restart(sig, down_s)``."""
    b = _start(lambda: Broker(tmp_path / "broker"))
    try:
        yield b
    finally:
        b.close()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Throwaway CA, server and client certificates (st-0001, st-0002, clinic-ingest) and a
    rogue CA with look-alike client certificates; made once per test session."""
    try:
        return make_pki(tmp_path_factory.mktemp("pki"))
    except BrokerError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def secure_broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    """mosquitto with a username/password listener (``url``) and a mutual-TLS listener
    (``tls_url``, CN = username), both enforcing the station ACL (``mqtt_broker.ACL``)."""
    b = _start(lambda: Broker(tmp_path / "secure-broker", auth=BrokerAuth(pki)))
    try:
        yield b
    finally:
        b.close()
