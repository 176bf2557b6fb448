"""Texture discrimination on the textured pads (``reference/CLINICAL.md`` §4.3, §4.7).

The pads' overlays have grooves of known width (``pads.textures_mm``; the standard kit is a
×1.26 ladder, 0.1 log10 per step). A trial compares pads by touch:

* ``2afc``: touch two pads in turn; which felt rougher (the wider grooves)?
* ``odd_one_out`` (3AFC): touch three pads, two of the same texture; press the one that
  felt different. Needs a texture that two pads share.

The stimulus is the difference between the textures, d = |log10(w1 / w2)|, on a log10 scale
(the procedure works on log10 d). The ladder is what the fitted pads allow: every distinct
difference between two of the block's pads, graded as far as the set goes (the standard
8-pad kit: 0.1 to 0.7 log10 in 0.1 steps). Assessment (QUEST+) presents exactly those
levels; training (weighted up-down) presents the level nearest its own. The contact force
of each touch is checked against the ``[sensory]`` band like a resting fingertip's.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np

from station.catalog import TEXTURE_DISCRIMINATION
from station.protocols.base import SessionContext
from station.protocols.sensory import procedure as proc_mod
from station.protocols.sensory.engine import Block, BlockSetup, Presented, SensoryProtocol
from station.protocols.sensory.vibration import (
    TRAINING_STEPS_LOG10,
    carried,
    latest_threshold,
)

#: Pause between two touches (s): the finger lifts and moves.
BETWEEN_S = 0.6
#: Differences closer than this (log10) are one level.
LEVEL_TOLERANCE = 1e-3


class TextureDiscrimination(SensoryProtocol, spec=TEXTURE_DISCRIMINATION):
    intro_key = "sense.intro_texture"
    scale = "log10"

    def __init__(self, params: dict[str, Any]) -> None:
        super().__init__(params)
        self.pads: list[int] = self.params["pads"]
        self.task: str = self.params["task"]
        self.touch_s: float = self.params["touch_s"]

    def blocks(self) -> list[Block]:
        return [Block(f"site{self.pads[0]}", tuple(self.pads))]

    def place(self, ctx: SessionContext, block: Block) -> bool | None:
        return True  # each trial says which pad to touch

    def setup(self, ctx: SessionContext, block: Block, side: str) -> BlockSetup:
        options = trial_options(ctx.texture_widths_mm, block.pads, self.task)
        levels = sorted(options)
        logs = [math.log10(d) for d in levels]
        n_afc = 3 if self.task == "odd_one_out" else 2
        if self.mode == "assessment":
            spec = proc_mod.quest_spec(
                logs,
                (math.log10(0.02), math.log10(1.0), 40),
                scale="log10",
                n_afc=n_afc,
                max_trials=self.trials,
                ci95_width=0.3,
                seed=ctx.rng.randrange(2**31),
            )
            spec["prior"] = carried(ctx, self.name, block, side, spec)
        else:
            last = latest_threshold(ctx, self.name, block.key, side)
            bounds = (logs[0], logs[-1]) if len(logs) > 1 else (logs[0] - 0.1, logs[0])
            start = sum(bounds) / 2 if last is None else min(logs[-1], last + 0.2)
            spec = proc_mod.training_spec(
                start, bounds, TRAINING_STEPS_LOG10, scale="log10", n_afc=n_afc,
                max_trials=self.trials,
            )  # fmt: skip
        spec["task"] = self.task
        spec["widths_mm"] = [ctx.texture_widths_mm[p] for p in block.pads]
        return BlockSetup(spec, {"options": options, "levels": levels})

    def present(self, ctx: SessionContext, block: Block, setup: BlockSetup, x: float) -> Presented:
        levels: list[float] = setup.extra["levels"]
        level = min(levels, key=lambda d: abs(math.log10(d) - x))
        sets = setup.extra["options"][level]
        chosen = list(sets[ctx.rng.randrange(len(sets))])
        ctx.rng.shuffle(chosen)
        contacts = []
        for pad in chosen:
            ctx.ui.prompt("sense.touch", pad=pad + 1)
            ctx.wait(self.touch_s)
            contacts.append(self.touched(ctx, pad, self.touch_s))
            ctx.wait(BETWEEN_S)
        widths = [ctx.texture_widths_mm[p] for p in chosen]
        presented = {"pads": chosen, "widths_mm": widths, "level_log10": round(level, 4)}
        bad = next((c for c in contacts if c[1] != "ok"), None)
        contact_n = float(np.median([c[0] for c in contacts if c[0] is not None] or [math.nan]))
        contact_n_out = None if math.isnan(contact_n) else contact_n
        if bad is not None:
            return Presented(False, presented, {}, None, bad[0], bad[1])
        if self.task == "odd_one_out":
            odd = next(p for p, w in zip(chosen, widths, strict=True) if widths.count(w) == 1)
            ctx.ui.prompt("sense.press_odd")
            pressed, rt = self.pressed_pad(ctx, chosen)
            return Presented(pressed == odd, presented, {"pad": pressed}, rt, contact_n_out)
        rougher = 0 if widths[0] > widths[1] else 1
        choice, rt = self.two_choice(ctx, "sense.which_rougher")
        return Presented(choice == rougher, presented, {"choice": choice}, rt, contact_n_out)

    def reported(self, x: float, spec: dict[str, Any]) -> tuple[float, str]:
        return 10**x, "log10 ratio"

    def physical(self, x: float, spec: dict[str, Any]) -> tuple[float, str]:
        return 10 ** (10**x), "1"


def trial_options(
    widths_mm: Any, pads: tuple[int, ...], task: str
) -> dict[float, list[tuple[int, ...]]]:
    """Every texture difference (log10, rounded) the pads allow, with the pad sets that
    present it: pairs of different widths (2AFC), or a same-width pair plus a different
    pad (odd-one-out)."""
    w = {p: float(widths_mm[p]) for p in pads}
    out: dict[float, list[tuple[int, ...]]] = {}

    def add(d: float, pads_: tuple[int, ...]) -> None:
        for level in out:
            if abs(level - d) <= LEVEL_TOLERANCE:
                out[level].append(pads_)
                return
        out[round(d, 4)] = [pads_]

    for a, b in combinations(pads, 2):
        if w[a] == w[b]:
            if task == "odd_one_out":
                for c in pads:
                    if w[c] != w[a]:
                        add(abs(math.log10(w[c] / w[a])), (a, b, c))
        elif task == "2afc":
            add(abs(math.log10(w[a] / w[b])), (a, b))
    if not out:
        raise ValueError(f"pads {list(pads)} give no texture difference for {task}")
    return out


__all__ = ["TextureDiscrimination", "trial_options"]
