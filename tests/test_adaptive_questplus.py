"""QUEST+: posterior by hand on a tiny grid, stimulus choice, catch trials, state, coverage."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from station.adaptive import QuestGrid, QuestPlus, SimulatedObserver, population_prior, restore

GRID = QuestGrid.make(np.linspace(-1.5, 0.5, 40), np.linspace(-1.5, 0.5, 40))


def psi_by_hand(x: float, t: float) -> float:
    """2AFC Weibull on log10, slope 1, lapse 0: 0.5 + 0.5·(1 − exp(−10^(x − t)))."""
    return 0.5 + 0.5 * (1.0 - math.exp(-(10.0 ** (x - t))))


def tiny() -> QuestPlus:
    grid = QuestGrid.make([0.0, 1.0], [0.0, 1.0], [1.0], [0.0])
    return QuestPlus(grid, np.array([0.5, 0.5]), catch_rate=0.0)


def test_questplus_posterior_is_bayes_on_a_tiny_grid() -> None:
    q = tiny()
    q.update(0.0, True)
    a, b = psi_by_hand(0.0, 0.0), psi_by_hand(0.0, 1.0)  # 0.8161, 0.5476
    assert q.posterior == pytest.approx([a / (a + b), b / (a + b)], rel=1e-12)
    q.update(1.0, False)
    wa, wb = a * (1 - psi_by_hand(1.0, 0.0)), b * (1 - psi_by_hand(1.0, 1.0))
    assert q.posterior == pytest.approx([wa / (wa + wb), wb / (wa + wb)], rel=1e-9)


def test_questplus_expected_entropy_and_choice_by_hand() -> None:
    q = tiny()
    want = []
    for x in (0.0, 1.0):
        total = 0.0
        for correct in (True, False):
            like = [psi_by_hand(x, t) if correct else 1 - psi_by_hand(x, t) for t in (0, 1)]
            p_o = 0.5 * like[0] + 0.5 * like[1]
            post = [0.5 * v / p_o for v in like]
            total += p_o * -sum(v * math.log(v) for v in post)
        want.append(total)
    assert q.expected_entropy() == pytest.approx(want, rel=1e-12)
    assert q.next_stimulus() == [0.0, 1.0][int(np.argmin(want))]


def test_questplus_update_off_the_grid_uses_the_function() -> None:
    q = tiny()
    q.update(0.3, True)
    a, b = psi_by_hand(0.3, 0.0), psi_by_hand(0.3, 1.0)
    assert q.posterior == pytest.approx([a / (a + b), b / (a + b)], rel=1e-12)


def test_random_among_best_k_never_repeats_a_level_three_times() -> None:
    q = QuestPlus(GRID, best_k=4, max_run=2, catch_rate=0.0, max_trials=120, seed=3)
    obs = SimulatedObserver(-0.4, seed=10_000 + 3)
    shown = []
    while not q.finished():
        best4 = set(GRID.stimuli[np.argsort(q.expected_entropy(), kind="stable")[:5]])
        x = q.next_stimulus()
        assert x in best4  # one of the best 4, or the 5th when the best is barred
        shown.append(x)
        q.update(x, obs.respond(x))
    runs = [shown[i] == shown[i + 1] == shown[i + 2] for i in range(len(shown) - 2)]
    assert not any(runs)
    assert any(shown[i] == shown[i + 1] for i in range(len(shown) - 1))  # repeats do occur
    assert len(set(shown)) > 4


def test_best_k_one_is_pure_minimum_entropy() -> None:
    q = QuestPlus(GRID, catch_rate=0.0, seed=1)
    assert q.next_stimulus() == GRID.stimuli[int(np.argmin(q.expected_entropy()))]


def test_catch_trials_come_at_the_rate_at_the_top_level() -> None:
    q = QuestPlus(GRID, catch_rate=0.1, max_trials=400, seed=5)
    obs = SimulatedObserver(-0.5, seed=10_000 + 5)
    while not q.finished():
        x = q.next_stimulus()
        q.update(x, obs.respond(x))
    catches = [h for h in q.history if h[2]]
    assert all(h[0] == GRID.stimuli[-1] for h in catches)
    assert 20 <= len(catches) <= 62  # binomial(400, 0.1): mean 40, SD 6; > 3 SD either side


def test_a_missed_catch_trial_raises_the_lapse_estimate() -> None:
    q = QuestPlus(GRID, catch_rate=0.0, seed=2)
    obs = SimulatedObserver(-0.5, seed=10_000 + 2)
    for _ in range(20):
        x = q.next_stimulus()
        q.update(x, obs.respond(x))
    state = q.to_state()
    before = q.estimate().lapse
    hit, miss = QuestPlus.from_state(state), QuestPlus.from_state(state)
    hit.update(0.5, True)
    miss.update(0.5, False)
    assert miss.estimate().lapse > before + 0.01 > hit.estimate().lapse + 0.01


def test_catch_trials_feed_the_lapse_estimate() -> None:
    # An observer missing 10 % of easy trials: with 30 % catch trials the lapse posterior mean
    # ends nearer the truth than without (same observers and seeds; a coarser grid to keep
    # the test cheap).
    grid = QuestGrid.make(np.linspace(-1.5, 0.5, 20), np.linspace(-1.5, 0.5, 20))
    means = {}
    for rate in (0.0, 0.3):
        lapses = []
        for seed in range(20):
            obs = SimulatedObserver(-0.5, 3.5, 0.5, 0.1, seed=10_000 + seed)
            q = QuestPlus(grid, catch_rate=rate, max_trials=100, seed=seed)
            while not q.finished():
                x = q.next_stimulus()
                q.update(x, obs.respond(x))
            lapses.append(q.estimate().lapse)
        means[rate] = float(np.mean(lapses))
    assert means[0.3] > means[0.0] + 0.01
    assert abs(means[0.3] - 0.1) < abs(means[0.0] - 0.1)


def test_questplus_state_round_trip_mid_run_reproduces_next_stimulus_and_rng() -> None:
    a = QuestPlus(GRID, best_k=4, catch_rate=0.2, max_trials=40, seed=11)
    obs = SimulatedObserver(-0.3, seed=10_000 + 11)
    for _ in range(12):
        x = a.next_stimulus()
        a.update(x, obs.respond(x))
    a.next_stimulus()  # pending choice must survive too
    b = restore(json.loads(json.dumps(a.to_state())))
    assert isinstance(b, QuestPlus)
    answers = np.random.default_rng(0).random(20) < 0.7
    for correct in answers:
        xa, xb = a.next_stimulus(), b.next_stimulus()
        assert xa == xb
        a.update(xa, bool(correct))
        b.update(xb, bool(correct))
    assert np.array_equal(a.posterior, b.posterior)
    assert a.estimate() == b.estimate()


def test_credible_interval_covers_near_nominal_with_truth_from_the_prior() -> None:
    # Truth drawn from the same prior the procedure uses: 95 % intervals should cover about
    # 95 % (binomial SD 1.7 % over 160 runs; the grid adds a little width).
    prior = population_prior(GRID, -0.5, 0.3)
    rng = np.random.default_rng(7)
    flat = rng.choice(GRID.size, size=160, p=prior)
    hits, errors = [], []
    for run, idx in enumerate(flat):
        ti, bi, li = np.unravel_index(idx, GRID.shape)
        t = GRID.thresholds[ti] + rng.uniform(-0.025, 0.025)
        obs = SimulatedObserver(t, GRID.slopes[bi], 0.5, GRID.lapses[li], seed=10_000 + run)
        q = QuestPlus(GRID, prior, max_trials=30, seed=run)
        while not q.finished():
            x = q.next_stimulus()
            q.update(x, obs.respond(x))
        est = q.estimate()
        hits.append(est.ci95[0] <= t <= est.ci95[1])
        errors.append(abs(est.threshold - t))
    assert 0.90 <= np.mean(hits) <= 0.99
    # Median |error| at 30 trials over slopes 1-6: stated bound 0.08 log10 (±20 %).
    assert np.median(errors) < 0.08


def test_stop_on_credible_interval_width() -> None:
    q = QuestPlus(GRID, max_trials=200, min_trials=10, ci95_width=0.3, seed=4)
    obs = SimulatedObserver(-0.5, seed=10_000 + 4)
    while not q.finished():
        x = q.next_stimulus()
        q.update(x, obs.respond(x))
    lo, hi = q.estimate().ci95
    assert 10 <= len(q.history) < 200 and hi - lo <= 0.3


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"best_k": 0}, r"best_k must be in \[1, 10\]"),
        ({"max_run": 0}, r"max_run must be in \[1, 10\]"),
        ({"catch_rate": 0.6}, r"catch_rate must be in \[0, 0.5\]"),
        ({"max_trials": 0}, r"max_trials must be in \[1, "),
        ({"ci95_width": -1.0}, r"ci95_width must be in \(0, inf\)"),
        ({"prior": np.ones(3)}, "prior must be 1600"),
    ],
)
def test_questplus_bad_arguments_name_the_range(kw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QuestPlus(GRID, **kw)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"n_afc": 5}, r"n_afc must be in \[2, 4\]"),
        ({"lapses": [0.0, 0.6]}, r"lapses values must be finite and in \[0, 0.49\]"),
        ({"slopes": [2.0, 1.0]}, "slopes must be strictly increasing"),
        ({"form": "gumbel"}, "form must be one of"),
    ],
)
def test_grid_bad_arguments_name_the_range(kw: dict, message: str) -> None:
    args = {"stimuli": [0.0, 1.0], "thresholds": [0.0, 1.0], **kw}
    with pytest.raises(ValueError, match=message):
        QuestGrid.make(**args)


def test_restore_rejects_a_foreign_state() -> None:
    with pytest.raises(ValueError, match="kind 'psi'"):
        restore({"schema": "rehab.adaptive/1", "kind": "psi"})


def test_three_afc_guess_rate_sets_the_floor() -> None:
    grid = QuestGrid.make([-3.0, 0.0], [0.0], [3.5], [0.0], n_afc=3)
    assert grid.p_table[0, 0] == pytest.approx(1 / 3, abs=1e-3)
