"""Adaptive-procedure benchmark: simulated runs of every procedure against a seeded observer.

Run from the repository root::

    .venv/bin/python tests/bench/adaptive.py [--runs 200] [--seed 1] [--json]

Observer: 2AFC Weibull (log10 scale), γ = 0.5, λ = 0.02, β = 3.5 (β = 2 for the
mis-specified-slope rows), true threshold uniform on [−1, 0] log10 (CLINICAL.md §8.2).
QUEST+ grid: 40 stimuli and 40 thresholds on [−1.5, 0.5] log10 x 8 slopes (1-6) x 5 lapses
(0-0.1); population prior N(−0.5, 0.3²) on the threshold, 10 % catch trials. Staircases
start at +0.3 log10 and are scored against their own target (the observer's level at the
proportion correct they converge on); QUEST+ against the threshold t. Printed per procedure:
the first trial count from which on 80 % of runs are within ±20 % and ±10 % (linear units) of
the truth, the robust SD (1.4826·MAD) of the error and its ratio to the Cramér-Rao floor
(N·SD² / K_ideal, K_ideal = 0.066 log10² at β = 3.5, §8.1), the mean bias at β = 2,
the coverage of the 95 % and 68 % intervals, and the CPU time per trial (next stimulus plus
update; the estimate separately). Nothing passes or fails.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from station.adaptive import (
    Procedure,
    QuestGrid,
    QuestPlus,
    SimulatedObserver,
    Staircase,
    WeightedUpDown,
    carry_over_prior,
    population_prior,
)

K_IDEAL = 0.066  # log10², 2AFC Weibull β = 3.5, λ = 0.02 (CLINICAL.md §8.1)
LO20, HI20 = math.log10(0.8), math.log10(1.2)
LO10, HI10 = math.log10(0.9), math.log10(1.1)
GRID = QuestGrid.make(np.linspace(-1.5, 0.5, 40), np.linspace(-1.5, 0.5, 40))
POP = population_prior(GRID, -0.5, 0.3)
QP_TRIALS, STAIR_TRIALS = 60, 80

Factory = Callable[[int], tuple[Procedure, Callable[[SimulatedObserver], float]]]


def qp(best_k: int = 1, prior: np.ndarray | None = None, trials: int = QP_TRIALS) -> Factory:
    def make(seed: int) -> tuple[Procedure, Callable[[SimulatedObserver], float]]:
        proc = QuestPlus(
            GRID, POP if prior is None else prior, best_k=best_k, max_trials=trials, seed=seed
        )
        return proc, lambda obs: obs.threshold

    return make


def stair(proc_cls: Any, **kw: Any) -> Factory:
    def make(seed: int) -> tuple[Procedure, Callable[[SimulatedObserver], float]]:
        proc = proc_cls(0.3, n_reversals=None, max_trials=STAIR_TRIALS, **kw)
        return proc, lambda obs: obs.level_at(proc.target_p)

    return make


def simulate(
    factory: Factory,
    runs: int,
    seed: int,
    slope: float = 3.5,
    shift: float = 0.0,
    priors: list[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Errors (runs x trials, log10), 95/68 % interval hits at the end, and CPU times."""
    errs, hit95, hit68 = [], [], []
    cpu_step = cpu_est = 0.0
    n_steps = 0
    for r in range(runs):
        rng = np.random.default_rng([seed, r])
        t = float(rng.uniform(-1.0, 0.0)) + shift
        obs = SimulatedObserver(t, slope, 0.5, 0.02, seed=[seed, r, 1])  # type: ignore[arg-type]
        if priors is not None:
            proc: Procedure = QuestPlus(GRID, priors[r], max_trials=35, seed=seed * 7919 + r)
            truth = t
        else:
            proc, target = factory(seed * 7919 + r)
            truth = target(obs)
        row = []
        while not proc.finished():
            c0 = time.process_time()
            x = proc.next_stimulus()
            proc.update(x, obs.respond(x))
            c1 = time.process_time()
            try:
                est = proc.estimate()
                row.append(est.threshold - truth)
            except Exception:  # too few reversals yet
                est = None
                row.append(math.nan)
            cpu_step += c1 - c0
            cpu_est += time.process_time() - c1
            n_steps += 1
        errs.append(row)
        hit95.append(est is not None and est.ci95[0] <= truth <= est.ci95[1])
        hit68.append(est is not None and est.ci68[0] <= truth <= est.ci68[1])
    return {
        "err": np.array(errs),
        "cov95": float(np.mean(hit95)),
        "cov68": float(np.mean(hit68)),
        "cpu_step_ms": 1e3 * cpu_step / n_steps,
        "cpu_est_ms": 1e3 * cpu_est / n_steps,
    }


def first_n(err: np.ndarray, lo: float, hi: float, share: float = 0.8) -> int | None:
    """The first trial count from which on at least ``share`` of runs stay within."""
    ok = np.mean((err >= lo) & (err <= hi), axis=0) >= share
    if not ok[-1]:
        return None
    misses = np.flatnonzero(~ok)
    return int(misses[-1]) + 2 if misses.size else 1


def robust_sd(e: np.ndarray) -> float:
    e = e[np.isfinite(e)]
    return float(1.4826 * np.median(np.abs(e - np.median(e))))


def figures(name: str, factory: Factory, runs: int, seed: int) -> dict[str, Any]:
    main = simulate(factory, runs, seed)
    shallow = simulate(factory, runs, seed + 1, slope=2.0)
    err = main["err"]
    n = err.shape[1]
    sd = robust_sd(err[:, -1])
    sd40 = robust_sd(err[:, 39])
    return {
        "procedure": name,
        "trials": n,
        "n80_within_20pct": first_n(err, LO20, HI20),
        "n80_within_10pct": first_n(err, LO10, HI10),
        "median_abs_err_log10_at_35": round(float(np.nanmedian(np.abs(err[:, 34]))), 4),
        "robust_sd_log10_at_40": round(sd40, 4),
        "crb_ratio_at_40": round(40 * sd40**2 / K_IDEAL, 2),
        f"robust_sd_log10_at_{n}": round(sd, 4),
        f"crb_ratio_at_{n}": round(n * sd**2 / K_IDEAL, 2),
        "bias_log10": round(float(np.nanmean(err[:, -1])), 4),
        "bias_log10_slope2": round(float(np.nanmean(shallow["err"][:, -1])), 4),
        "cov95": main["cov95"],
        "cov68": main["cov68"],
        "cov95_slope2": shallow["cov95"],
        "cpu_ms_per_trial": round(main["cpu_step_ms"], 4),
        "cpu_ms_per_estimate": round(main["cpu_est_ms"], 4),
    }


def carry_over(runs: int, seed: int) -> list[dict[str, Any]]:
    """A first assessment (50 trials, population prior), then 35 trials on a patient whose
    threshold stayed, halved or doubled, from the carried-over vs the population prior."""
    carried = []
    for r in range(runs):
        rng = np.random.default_rng([seed, r])
        t = float(rng.uniform(-1.0, 0.0))
        first = QuestPlus(GRID, POP, max_trials=50, seed=seed * 31 + r)
        obs = SimulatedObserver(t, 3.5, 0.5, 0.02, seed=[seed, r, 2])  # type: ignore[arg-type]
        while not first.finished():
            x = first.next_stimulus()
            first.update(x, obs.respond(x))
        carried.append(carry_over_prior(GRID, first.posterior))
    out = []
    for label, shift in (("same", 0.0), ("halved", -math.log10(2)), ("doubled", math.log10(2))):
        for prior_name, priors in (("carried", carried), ("population", [POP] * runs)):
            res = simulate(qp(), runs, seed, shift=shift, priors=priors)
            err = res["err"]
            out.append(
                {
                    "patient": label,
                    "prior": prior_name,
                    "n80_within_20pct": first_n(err, LO20, HI20),
                    "within_20pct_at_20": round(
                        float(np.mean((err[:, 19] >= LO20) & (err[:, 19] <= HI20))), 3
                    ),
                    "within_20pct_at_35": round(
                        float(np.mean((err[:, 34] >= LO20) & (err[:, 34] <= HI20))), 3
                    ),
                    "cov95_at_35": res["cov95"],
                }
            )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200, help="simulated runs per condition")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    procs: list[tuple[str, Factory]] = [
        ("staircase 2-down/1-up (80.4 %)", stair(Staircase, n_down=2)),
        ("staircase 3-down/1-up (83.2 %)", stair(Staircase, n_down=3)),
        ("weighted up-down (80 %)", stair(WeightedUpDown, target_p=0.8)),
        ("QUEST+ 3p, min entropy", qp()),
        ("QUEST+ 3p, random among best 4", qp(best_k=4)),
    ]
    rows = [figures(name, f, args.runs, args.seed) for name, f in procs]
    carry = carry_over(args.runs, args.seed + 100)
    wall = time.perf_counter() - t0
    if args.json:
        print(json.dumps({"procedures": rows, "carry_over": carry, "wall_s": wall}, indent=2))
        return 0
    print(f"{args.runs} runs per condition, seed {args.seed}; 2AFC Weibull β 3.5, λ 0.02")
    for row in rows:
        print(f"\n{row['procedure']}")
        for k, v in row.items():
            if k != "procedure":
                print(f"  {k:32s} {v}")
    print("\ncarry-over (35 trials after a 50-trial first assessment)")
    print(f"  {'patient':8s} {'prior':11s} {'n80 ±20%':>9s} {'@20':>6s} {'@35':>6s} {'cov95':>6s}")
    for c in carry:
        print(
            f"  {c['patient']:8s} {c['prior']:11s} {c['n80_within_20pct']!s:>9s} "
            f"{c['within_20pct_at_20']:6.3f} {c['within_20pct_at_35']:6.3f} "
            f"{c['cov95_at_35']:6.3f}"
        )
    print(f"\nwall time {wall:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
