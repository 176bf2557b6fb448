"""Vibrotactile protocols: detection threshold, amplitude discrimination, localisation
(``reference/CLINICAL.md`` §4.1, §4.2, §4.7; the design choices are in docs/sensory.md).

Amplitudes are in dB re each motor's calibration reference (0 dB = ``reference_g`` of its
``rehab.calibration/1`` record, g rms at the pad); every stimulus goes through
:class:`sensors.haptics.Haptics`, so the station's and the plan's caps and the daily dose
hold whatever a procedure asks for. The levels a block may present stop at the lower of the
motor's calibrated maximum and its cap.

* ``vibration_threshold``: two intervals, one holds the vibration (2AFC); one block per
  site (a pad with its motor), the patient's fingertip resting on it.
* ``amplitude_discrimination``: two vibrations, a pedestal ``above_threshold_db`` over the
  site's last vibration threshold and the pedestal + Δ; which was stronger. Δ on a log10
  scale of dB (10 → 2 dB is the training ladder). An ERM's frequency rises with its
  amplitude, so on ERM stations the comparison also differs in frequency (documented).
* ``localisation``: fingertips on 3-4 neighbouring pads; one motor plays; the patient
  presses the pad that buzzed (3AFC/4AFC over the level, dB re that motor's reference).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sensors.haptics import Stimulus
from station.catalog import AMPLITUDE_DISCRIMINATION, LOCALISATION, VIBRATION_THRESHOLD
from station.kinds import DecisionKind, Scope
from station.protocols.base import ProtocolStop, SessionContext
from station.protocols.sensory import procedure as proc_mod
from station.protocols.sensory.engine import (
    LEAD_S,
    RAMP_S,
    TAIL_S,
    Block,
    BlockSetup,
    Presented,
    SensoryProtocol,
)
from station.protocols.sensory.results import last_assessment, last_block
from station.safety import Decision

#: Levels a detection block spans below the motor's top level (dB), and how many.
SPAN_DB = 45.0
N_LEVELS = 40
#: QUEST+ stops once its 95 % interval is this narrow (dB; log10 for ratios).
CI95_DB = 6.0
CI95_LOG10 = 0.3
#: Training starts this far above the last threshold (dB), or mid-range the first time.
TRAINING_MARGIN_DB = 10.0
#: Weighted up-down up steps (dB; a down step is a quarter at 80 %), halved at reversals 2
#: and 4: 2 dB down per correct answer at first, so a block reaches threshold in ~10 trials.
TRAINING_STEPS_DB = (8.0, 4.0, 2.0)
TRAINING_STEPS_LOG10 = (0.4, 0.2, 0.1)
#: Amplitude discrimination: Δ from 0.5 to 12 dB; the pedestal at least 10 dB over threshold.
DELTA_DB = (0.5, 12.0)
MIN_PEDESTAL_DB = 10.0


class VibrationProtocol(SensoryProtocol):
    """Shared by the vibrotactile protocols: sites, motor levels, history lookups."""

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.sites: list[int] = self.params["sites"]
        self.stimulus_s: float = self.params["stimulus_s"]

    def blocks(self) -> list[Block]:
        return [Block(f"site{p}", (p,)) for p in self.sites]

    def place(self, ctx: SessionContext, block: Block) -> bool | None:
        return ctx.ui.ask_ok("sense.place", ctx.no_response_s, pad=block.site + 1)

    @staticmethod
    def top_db(ctx: SessionContext, motor: int) -> tuple[float, float]:
        """The highest level (dB re the motor's reference, a 0.5 dB step below its cap and
        calibrated maximum) and the reference (g rms)."""
        curve = ctx.haptics.curves[motor]
        top_g = min(ctx.haptics.cap_g(motor), curve.max_g)
        return math.floor(40.0 * math.log10(top_g / curve.reference_g)) / 2.0, curve.reference_g

    def level_spec(
        self, ctx: SessionContext, block: Block, side: str, top: float, n_afc: int
    ) -> dict[str, Any]:
        """A detection-type block's spec over [top - 45 dB, top]."""
        lo = top - SPAN_DB
        if self.mode == "assessment":
            spec = proc_mod.quest_spec(
                np.linspace(lo, top, N_LEVELS).tolist(),
                (lo - 5.0, top + 5.0, N_LEVELS),
                scale="dB",
                n_afc=n_afc,
                max_trials=self.trials,
                ci95_width=CI95_DB,
                seed=ctx.rng.randrange(2**31),
            )
            spec["prior"] = carried(ctx, self.name, block, side, spec)
            return spec
        last = latest_threshold(ctx, self.name, block.key, side)
        # The first time, mid-range: a descent from the top would take most of a block.
        start = (lo + top) / 2 if last is None else min(top, last + TRAINING_MARGIN_DB)
        return proc_mod.training_spec(
            start, (lo, top), TRAINING_STEPS_DB, scale="dB", n_afc=n_afc, max_trials=self.trials
        )

    def interval(
        self, ctx: SessionContext, k: int, pad: int, stimulus: Stimulus | None
    ) -> tuple[float, float | None, float | None, tuple[float | None, str]]:
        """Interval ``k`` of two, playing ``stimulus`` on motor ``pad`` (None: silent):
        (played s, amplitude g, frequency Hz, contact)."""
        ctx.ui.prompt("sense.interval", n=k + 1, total=2)
        ctx.wait(LEAD_S)
        t0 = ctx.clock.now()
        played, amp, freq = 0.0, None, None
        if stimulus is None:
            ctx.wait(self.stimulus_s)
        else:
            played, amp, freq, _ = self.play(ctx, pad, stimulus)
        contact = self.contact(ctx, pad, ctx.clock.now() - t0)
        ctx.wait(TAIL_S)
        return played, amp, freq, contact


class VibrationThreshold(VibrationProtocol, spec=VIBRATION_THRESHOLD):
    """2AFC vibration detection threshold per site."""

    intro_key = "sense.intro_vibration"
    scale = "dB"

    def setup(self, ctx: SessionContext, block: Block, side: str) -> BlockSetup:
        top, ref = self.top_db(ctx, block.site)
        spec = self.level_spec(ctx, block, side, top, n_afc=2)
        spec["reference_g"] = round(ref, 5)
        return BlockSetup(spec)

    def present(self, ctx: SessionContext, block: Block, setup: BlockSetup, x: float) -> Presented:
        pad = block.site
        target = ctx.rng.randrange(2)
        stim = Stimulus(self.stimulus_s, amplitude_db=x, ramp_s=RAMP_S)
        got = [self.interval(ctx, k, pad, stim if k == target else None) for k in range(2)]
        _, amp, freq, (contact_n, verdict) = got[target]
        verdict = verdict if verdict != "ok" else got[1 - target][3][1]
        presented = {"interval": target, "amplitude_g": _r(amp), "frequency_hz": _r(freq)}
        if verdict != "ok":
            return Presented(False, presented, {}, None, contact_n, verdict)
        choice, rt = self.two_choice(ctx, "sense.which_buzz")
        return Presented(choice == target, presented, {"choice": choice}, rt, contact_n, "ok")

    def physical(self, x: float, spec: dict[str, Any]) -> tuple[float, str]:
        return float(spec.get("reference_g", 1.0)) * 10 ** (x / 20), "g"


class AmplitudeDiscrimination(VibrationProtocol, spec=AMPLITUDE_DISCRIMINATION):
    """2AFC: which of two vibrations was stronger, over Δ (log10 of dB)."""

    intro_key = "sense.intro_amplitude"
    scale = "log10"

    def setup(self, ctx: SessionContext, block: Block, side: str) -> BlockSetup:
        top, ref = self.top_db(ctx, block.site)
        threshold = latest_threshold(ctx, VIBRATION_THRESHOLD.name, block.key, side)
        if threshold is None:
            raise ProtocolStop(_no_threshold(self.name, block, "no vibration threshold yet"))
        pedestal = min(threshold + self.params["above_threshold_db"], top - DELTA_DB[1])
        if pedestal < threshold + MIN_PEDESTAL_DB:
            raise ProtocolStop(
                _no_threshold(
                    self.name, block, "the site's threshold is too close to the vibration cap"
                )
            )
        lo, hi = math.log10(DELTA_DB[0]), math.log10(DELTA_DB[1])
        if self.mode == "assessment":
            spec = proc_mod.quest_spec(
                np.linspace(lo, hi, 30).tolist(),
                (math.log10(0.3), math.log10(20.0), N_LEVELS),
                scale="log10",
                n_afc=2,
                max_trials=self.trials,
                ci95_width=CI95_LOG10,
                seed=ctx.rng.randrange(2**31),
            )
            spec["prior"] = carried(ctx, self.name, block, side, spec)
        else:
            last = latest_threshold(ctx, self.name, block.key, side)
            start = 1.0 if last is None else min(hi, last + 0.3)
            spec = proc_mod.training_spec(
                start, (lo, hi), TRAINING_STEPS_LOG10, scale="log10", n_afc=2,
                max_trials=self.trials,
            )  # fmt: skip
        spec["pedestal_db"] = round(pedestal, 2)
        spec["reference_g"] = round(ref, 5)
        return BlockSetup(spec, {"pedestal_db": pedestal})

    def present(self, ctx: SessionContext, block: Block, setup: BlockSetup, x: float) -> Presented:
        pad = block.site
        pedestal = setup.extra["pedestal_db"]
        delta = 10**x
        strong = ctx.rng.randrange(2)
        levels = [pedestal + (delta if k == strong else 0.0) for k in range(2)]
        got = [
            self.interval(ctx, k, pad, Stimulus(self.stimulus_s, amplitude_db=lv, ramp_s=RAMP_S))
            for k, lv in enumerate(levels)
        ]
        verdicts = [g[3] for g in got]
        bad = next((v for v in verdicts if v[1] != "ok"), None)
        presented = {
            "stronger": strong,
            "delta_db": round(delta, 3),
            "pedestal_db": round(pedestal, 2),
            "amplitude_g": [_r(g[1]) for g in got],
            "frequency_hz": [_r(g[2]) for g in got],
        }
        if bad is not None:
            return Presented(False, presented, {}, None, bad[0], bad[1])
        choice, rt = self.two_choice(ctx, "sense.which_stronger")
        contact_n = verdicts[strong][0]
        return Presented(choice == strong, presented, {"choice": choice}, rt, contact_n, "ok")

    def reported(self, x: float, spec: dict[str, Any]) -> tuple[float, str]:
        return 10**x, "dB"

    def physical(self, x: float, spec: dict[str, Any]) -> tuple[float, str]:
        return 10 ** (10**x / 20), "1"


class Localisation(VibrationProtocol, spec=LOCALISATION):
    """Which of 3-4 pads vibrated: nAFC over the level, answered by pressing the pad."""

    intro_key = "sense.intro_localisation"
    scale = "dB"

    def blocks(self) -> list[Block]:
        return [Block(f"site{self.sites[0]}", tuple(self.sites))]

    def place(self, ctx: SessionContext, block: Block) -> bool | None:
        return ctx.ui.ask_ok(
            "sense.place_many", ctx.no_response_s, first=block.pads[0] + 1, last=block.pads[-1] + 1
        )

    def setup(self, ctx: SessionContext, block: Block, side: str) -> BlockSetup:
        tops = [self.top_db(ctx, p) for p in block.pads]
        top = min(t for t, _ in tops)
        spec = self.level_spec(ctx, block, side, top, n_afc=len(block.pads))
        spec["reference_g"] = [round(r, 5) for _, r in tops]
        return BlockSetup(spec)

    def present(self, ctx: SessionContext, block: Block, setup: BlockSetup, x: float) -> Presented:
        target = block.pads[ctx.rng.randrange(len(block.pads))]
        ctx.ui.prompt("sense.feel_where")
        ctx.wait(LEAD_S)
        t0 = ctx.clock.now()
        _, amp, freq, _ = self.play(
            ctx, target, Stimulus(self.stimulus_s, amplitude_db=x, ramp_s=RAMP_S)
        )
        contact_n, verdict = self.contact(ctx, target, ctx.clock.now() - t0)
        ctx.wait(TAIL_S)
        presented = {"pad": target, "amplitude_g": _r(amp), "frequency_hz": _r(freq)}
        if verdict != "ok":
            return Presented(False, presented, {}, None, contact_n, verdict)
        ctx.ui.prompt("sense.press_where")
        pressed, rt = self.pressed_pad(ctx, block.pads)
        return Presented(pressed == target, presented, {"pad": pressed}, rt, contact_n, "ok")

    def physical(self, x: float, spec: dict[str, Any]) -> tuple[float, str]:
        refs = spec.get("reference_g") or [1.0]
        return float(np.mean(refs)) * 10 ** (x / 20), "g"


# -- history -------------------------------------------------------------------------------


def carried(
    ctx: SessionContext, protocol: str, block: Block, side: str, spec: dict[str, Any]
) -> dict[str, Any] | None:
    """The prior an assessment block carries over: the last assessment of the same
    protocol, block and hand on the same grid (None: the population prior)."""
    for uid, _, trials in ctx.journal.previous_trials(protocol, ctx.session_id):
        got = last_assessment(trials, block.key, side)
        if got is None:
            continue
        if not proc_mod.same_grid(got[0], spec):
            return None  # the levels changed (a new cap or calibration): start afresh
        return proc_mod.carried_prior(got[1], uid)
    return None


def latest_threshold(ctx: SessionContext, protocol: str, key: str, side: str) -> float | None:
    """The latest estimate (procedure scale) of ``protocol``'s block ``key`` for ``side``,
    in this session or an earlier one, training or assessment."""
    sessions = [("", "", ctx.journal.trials(ctx.session_id, protocol))]
    sessions += ctx.journal.previous_trials(protocol, ctx.session_id)
    for _, _, trials in sessions:
        got = last_block(trials, key, side)
        if got is not None and got[1].estimate is not None:
            return float(got[1].estimate.threshold)
    return None


def _no_threshold(name: str, block: Block, why: str) -> Decision:
    return Decision(
        DecisionKind.NO_THRESHOLD,
        Scope.VIBRATION,
        f"{name} at pad {block.site}: {why} (run vibration_threshold first)",
        {"pad": block.site},
    )


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 4)


__all__ = ["AmplitudeDiscrimination", "Localisation", "VibrationThreshold"]
