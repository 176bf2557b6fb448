"""What every sensory protocol shares: blocks of adaptive trials, the contact-force band,
feedback, the tingling check, journalling, and the metrics from the journal.

A protocol (:mod:`station.protocols.sensory.vibration`, ``.texture``) says what a block is
(a site: a pad with its motor; or a set of pads), how to set its procedure up
(:meth:`SensoryProtocol.setup`) and how to present one trial (:meth:`present`); this engine
runs the blocks (``reference/CLINICAL.md`` §4.7, §7.9):

* **training** (``mode: training``): weighted up-down at 80 % correct, ``trials`` per block
  (20-40), "Right!" or "Not this time" and a buzzer cue after each trial, a word of
  encouragement half-way;
* **assessment**: QUEST+ threshold x slope x lapse, at most ``trials`` (40-60), ~10 % catch
  trials, no feedback; the prior carried over from the last assessment of the same
  protocol, block and hand (:mod:`station.protocols.sensory.procedure`).

While a stimulus plays, the contact force on its pad must stay in the ``[sensory]`` band:
too light or too hard gets a prompt and the trial is repeated (journalled, counted, not
scored); more than ``max_contact_repeats`` in a block ends the block. A pause during a
trial repeats it too. Every trial is journalled the moment it ends. After a block with
vibration the patient is asked about tingling or discomfort: "yes" stops vibrotactile work
for the day (CLINICAL.md §6.4).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from sensors.haptics import VibrationCapReached
from station.catalog import TRIALS_BY_MODE
from station.journal import Trial
from station.kinds import Code, DecisionKind, Scope
from station.protocols.base import MetricsContext, ProtocolStop, SessionContext
from station.protocols.base import Protocol as ProtocolBase
from station.protocols.sensory import procedure as proc_mod
from station.protocols.sensory import results
from station.protocols.sensory.results import NOT_SCORED
from station.safety import Decision

#: Screen timing (s): the trial number, before a stimulus in its interval, after it.
PROGRESS_S = 0.8
LEAD_S = 0.3
TAIL_S = 0.3
FEEDBACK_S = 0.8
#: Linear ramps of a vibration stimulus (no click at its onset and offset).
RAMP_S = 0.05
#: A pad pressed this much above the band's top is an answer ("press the pad").
PRESS_ABOVE_N = 1.0
POLL_S = 0.02


@dataclass(frozen=True)
class Block:
    """One adaptive track: ``key`` names it in the journal and the metrics (``site0``);
    ``pads`` are the pads it uses (the first is its site)."""

    key: str
    pads: tuple[int, ...]

    @property
    def site(self) -> int:
        return self.pads[0]


@dataclass
class Presented:
    """What one trial presented and what the patient answered."""

    correct: bool
    #: Physical units of what was presented (amplitude in g, frequency, pads, widths).
    stimulus: dict[str, Any]
    response: dict[str, Any]
    reaction_time_s: float | None
    #: Median contact force on the stimulated pad while the stimulus played, and its verdict.
    contact_n: float | None
    contact: str = "ok"  # "ok", "light" or "hard"


@dataclass
class BlockSetup:
    """A block's procedure spec and what presenting its trials needs (e.g. the pedestal)."""

    spec: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


class SensoryProtocol(ProtocolBase):
    """Base of the sensory protocols; subclasses set the class attributes and implement
    :meth:`blocks`, :meth:`setup`, :meth:`place` and :meth:`present`."""

    #: Intro screen (asks OK) and the scale its procedure works on ("dB" or "log10").
    intro_key: ClassVar[str] = ""
    scale: ClassVar[str] = "dB"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.mode: str = self.params["mode"]
        self.role: str = self.params["hand"]
        #: The vibration of the trial in progress, as the dose counts it: seconds, energy.
        self._dose = [0.0, 0.0]
        self.trials: int = self.params["trials"] or TRIALS_BY_MODE[self.mode][2]

    # -- what a protocol says --------------------------------------------------------------

    def blocks(self) -> list[Block]:
        raise NotImplementedError

    def setup(self, ctx: SessionContext, block: Block, side: str) -> BlockSetup:
        raise NotImplementedError

    def place(self, ctx: SessionContext, block: Block) -> bool | None:
        """Ask the patient to put their fingertip(s) on the block's pads (OK / Back)."""
        raise NotImplementedError

    def present(self, ctx: SessionContext, block: Block, setup: BlockSetup, x: float) -> Presented:
        raise NotImplementedError

    def reported(self, x: float, spec: dict[str, Any]) -> tuple[float, str]:
        """A threshold in the procedure's scale as the summary reports it (value, unit)."""
        return x, "dB"

    def physical(self, x: float, spec: dict[str, Any]) -> tuple[float, str]:
        """A threshold in the procedure's scale in physical units (value, unit)."""
        return x, "dB"

    # -- running ---------------------------------------------------------------------------

    def pads_used(self) -> tuple[int, ...]:
        return tuple(sorted({p for b in self.blocks() for p in b.pads}))

    def check_ready(self, ctx: SessionContext) -> None:
        super().check_ready(ctx)
        if not self.uses_vibration:
            return
        motors = [] if ctx.haptics is None else list(range(len(ctx.haptics.motors)))
        for block in self.blocks():
            for pad in self.vibrating_pads(block):
                if pad not in motors:
                    reason = f"no vibration motor under pad {pad}"
                    raise ProtocolStop(
                        Decision(DecisionKind.NO_MOTORS, Scope.VIBRATION, reason, {"pad": pad})
                    )
                if pad not in ctx.haptics.curves:
                    ctx.ui.error("error.calibration", "E-CAL-02")
                    ctx.wait(5.0)
                    reason = f"motor {pad} has no calibration record"
                    raise ProtocolStop(
                        Decision(DecisionKind.UNCALIBRATED, Scope.VIBRATION, reason, {"pad": pad})
                    )

    def vibrating_pads(self, block: Block) -> tuple[int, ...]:
        """The pads whose motors a block plays (all of them: localisation)."""
        return block.pads if self.uses_vibration else ()

    def run(self, ctx: SessionContext) -> None:
        side = ctx.hands[self.role]
        if not ctx.answer(functools.partial(ctx.ui.ask_ok, self.intro_key, ctx.no_response_s)):
            raise ProtocolStop(_declined(side))
        index = len(ctx.journal.trials(ctx.session_id, self.name))
        for block in self.blocks():
            index = self._block(ctx, block, side, index)
            if self.uses_vibration:
                self._tingling_check(ctx, block)

    def _block(self, ctx: SessionContext, block: Block, side: str, index: int) -> int:
        """One block's trials; the next trial index."""
        setup = self.setup(ctx, block, side)
        procedure = proc_mod.build(setup.spec)
        if not ctx.answer(functools.partial(self.place, ctx, block)):
            raise ProtocolStop(_declined(side))
        scored = repeats = 0
        first = True
        total = int(setup.spec["max_trials"])
        while not procedure.finished():
            x = float(procedure.next_stimulus())
            catch = bool(getattr(procedure, "pending_catch", False))
            ctx.ui.progress("sense.progress", scored + 1, total)
            ctx.wait(PROGRESS_S)
            pauses, t0 = ctx.pauses, ctx.clock.now()
            self._dose = [0.0, 0.0]  # this trial's vibration: seconds and energy, as dosed
            try:
                shown = self.present(ctx, block, setup, x)
            except VibrationCapReached as exc:
                self._journal(ctx, block, side, index, setup, first, x, catch, None, t0,
                              ("vibration_cap",))  # fmt: skip
                decision = Decision(
                    DecisionKind.VIBRATION_DOSE, Scope.VIBRATION, str(exc), {"block": block.key}
                )
                ctx.safety.decision(decision, Code.PROTOCOL)
                ctx.vibration_allowed = False  # no other vibration protocol today either
                raise ProtocolStop(decision, journalled=True) from exc
            quality = self._quality(shown, paused=ctx.pauses != pauses)
            self._journal(ctx, block, side, index, setup, first, x, catch, shown, t0, quality)
            index += 1
            first = False
            if NOT_SCORED & set(quality):
                repeats += 1
                if repeats > ctx.max_contact_repeats:
                    raise ProtocolStop(_contact_stop(block, repeats))
                if shown.contact != "ok":
                    ctx.ui.prompt(f"sense.too_{shown.contact}")
                    ctx.wait(2.0)
                continue
            procedure.update(x, shown.correct)
            scored += 1
            if self.mode == "training":
                self._feedback(ctx, shown.correct, scored, total)
        return index

    @staticmethod
    def _quality(shown: Presented, paused: bool) -> tuple[str, ...]:
        flags = {f"contact_{shown.contact}": shown.contact != "ok", "paused": paused}
        return tuple(k for k, raised in flags.items() if raised)

    def _journal(
        self,
        ctx: SessionContext,
        block: Block,
        side: str,
        index: int,
        setup: BlockSetup,
        first: bool,
        x: float,
        catch: bool,
        shown: Presented | None,
        t0: float,
        quality: tuple[str, ...],
    ) -> None:
        stimulus: dict[str, Any] = {
            "block": block.key,
            "site": block.site,
            "mode": self.mode,
            "role": self.role,
            "x": round(x, 4),
            "scale": self.scale,
            "catch": catch,
        }
        unscored = bool(NOT_SCORED & set(quality))
        if first:
            stimulus["procedure"] = setup.spec
        if shown is not None:
            stimulus.update(shown.stimulus)
        if self.uses_vibration:
            stimulus["vibration_s"] = round(self._dose[0], 4)
            stimulus["dose_energy_m2s3"] = round(self._dose[1], 6)
        ctx.record_trial(
            Trial(
                protocol=self.name,
                trial_index=index,
                hand=side,
                stimulus=stimulus,
                # an unscored trial (repeated) has no correct or wrong answer
                response={}
                if shown is None
                else {**shown.response, "correct": None if unscored else shown.correct},
                reaction_time_s=None if shown is None else _rounded(shown.reaction_time_s),
                contact_force_n=None if shown is None else _rounded(shown.contact_n),
                t_start_s=round(t0, 4),
                t_end_s=round(ctx.clock.now(), 4),
                quality=quality,
            )
        )

    def _feedback(self, ctx: SessionContext, correct: bool, done: int, total: int) -> None:
        ctx.ui.cue("correct" if correct else "incorrect")
        ctx.ui.prompt("sense.right" if correct else "sense.wrong")
        ctx.wait(FEEDBACK_S)
        if done == total // 2:
            ctx.ui.prompt("encourage.halfway")
            ctx.wait(1.5)

    def _tingling_check(self, ctx: SessionContext, block: Block) -> None:
        """Tingling or discomfort after the block's vibration: no more vibration today."""
        ask = functools.partial(ctx.ui.ask_yes_no, "sense.tingling", ctx.no_response_s)
        answer = ctx.answer(ask)
        if not answer:
            return
        decision = Decision(
            DecisionKind.PARESTHESIA,
            Scope.VIBRATION,
            "tingling or discomfort after vibration: no vibration for the rest of the day",
            {"protocol": self.name, "block": block.key},
        )
        ctx.safety.decision(decision, Code.PARESTHESIA)
        ctx.vibration_allowed = False
        ctx.ui.prompt("sense.vibration_stopped")
        ctx.wait(4.0)
        raise ProtocolStop(decision, journalled=True)

    # -- shared presentation pieces -------------------------------------------------------

    def contact(self, ctx: SessionContext, pad: int, seconds: float) -> tuple[float | None, str]:
        """Median contact force on ``pad`` over the last ``seconds``, and its verdict."""
        f = _forces(ctx, pad, seconds)
        if f.size == 0:
            return None, "light"
        median = float(np.median(f))
        return median, _verdict(median, ctx.contact_band_n)

    def touched(self, ctx: SessionContext, pad: int, seconds: float) -> tuple[float | None, str]:
        """Contact on ``pad`` while the patient touched it during the last ``seconds``: the
        median of the samples in contact (a touch starts after a reaction time); too
        little contact time is "light"."""
        f = _forces(ctx, pad, seconds)
        on = f[f >= ctx.contact_band_n[0] / 2]
        if f.size == 0 or on.size < 0.4 * f.size:
            return (float(np.median(on)) if on.size else None), "light"
        median = float(np.median(on))
        return median, _verdict(median, ctx.contact_band_n)

    def two_choice(self, ctx: SessionContext, question: str) -> tuple[int, float]:
        """Ask a First/Second question; the chosen interval (0/1) and the reaction time."""
        t_ask = ctx.clock.now()
        ev = ctx.answer(
            functools.partial(
                ctx.ui.ask_choice, question, ctx.no_response_s, "choice.first", "choice.second"
            )
        )
        return (0 if ev.key == "left" else 1), max(0.0, ev.t_s - t_ask)

    def pressed_pad(self, ctx: SessionContext, pads: Sequence[int]) -> tuple[int, float]:
        """Wait for the patient to press one of ``pads`` (above the contact band): which,
        and the reaction time. No press within ``no_response_s`` is no answer."""
        t_ask = ctx.clock.now()
        pressed = ctx.answer(functools.partial(self._poll_press, ctx, pads, t_ask))
        return pressed, ctx.clock.now() - t_ask

    def _poll_press(self, ctx: SessionContext, pads: Sequence[int], since: float) -> int | None:
        assert ctx.forces is not None
        limit = ctx.contact_band_n[1] + PRESS_ABOVE_N
        end = ctx.clock.now() + ctx.no_response_s
        while ctx.clock.now() < end:
            for pad in pads:
                try:
                    force = ctx.forces.latest_n(pad)
                except Exception:  # a pad glitch (PadGap): read it next time
                    continue
                if force > limit:
                    return pad
            ctx.wait(POLL_S)
        return None

    def play(
        self, ctx: SessionContext, motor: int, stimulus: Any
    ) -> tuple[float, float, float, bool]:
        """Play ``stimulus`` on ``motor`` through the haptics caps and the daily dose, the
        session's checks running throughout; (played s, amplitude g, frequency Hz,
        capped)."""
        dosed = ctx.haptics.ledger.session
        before = (dosed.vibration_s, dosed.energy_m2s3)
        try:
            result = ctx.haptics.play(motor, stimulus, until=ctx.checked)
        finally:  # what the dose counted, a stimulus cut short by Stop included
            dosed = ctx.haptics.ledger.session
            self._dose[0] += dosed.vibration_s - before[0]
            self._dose[1] += dosed.energy_m2s3 - before[1]
        if result.shortened:  # the day's vibration time ran out during it: not a stimulus
            raise VibrationCapReached(
                f"daily vibration time ({ctx.haptics.caps.daily_vibration_min:g} min) used up"
            )
        return result.played_s, result.amplitude_g, result.frequency_hz, result.capped

    # -- metrics ---------------------------------------------------------------------------

    def metrics(self, trials: list[Trial], ctx: MetricsContext) -> dict[str, Any]:
        return results.metrics(self, trials, ctx)


def _forces(ctx: SessionContext, pad: int, seconds: float) -> np.ndarray:
    """The pad's calibrated forces (N) over the last ``seconds``, gaps left out."""
    assert ctx.forces is not None
    f = np.asarray(ctx.forces.window_n(pad, seconds)[1], dtype=float)
    return f[np.isfinite(f)]


def _verdict(median_n: float, band: tuple[float, float]) -> str:
    return "light" if median_n < band[0] else "hard" if median_n > band[1] else "ok"


def _rounded(v: float | None) -> float | None:
    return None if v is None else round(float(v), 3)


def _declined(side: str) -> Decision:
    reason = f"declined or no answer ({side} hand)"
    return Decision(DecisionKind.DECLINED, Scope.VIBRATION, reason, {"hand": side})


def _contact_stop(block: Block, repeats: int) -> Decision:
    reason = f"contact force out of band on {repeats} trials at pad {block.site}"
    detail = {"block": block.key, "repeats": repeats}
    return Decision(DecisionKind.CONTACT_FORCE, Scope.VIBRATION, reason, detail)


__all__ = [
    "Block",
    "BlockSetup",
    "Presented",
    "SensoryProtocol",
]
