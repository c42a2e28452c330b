"""Curriculum draws in the training process: text or hybrid, per batch or per sample."""

from __future__ import annotations

from typing import Any

import numpy as np

from llara_core.interfaces import CurriculumScheduler, PromptMode


class ModeChooser:
    """Draws prompt modes from one seeded generator owned by the trainer (never by data-loader
    workers), given p(t) from the curriculum at the trainer's global optimiser step.

    It also draws the template index per batch and counts the realised hybrid fraction.
    """

    def __init__(self, curriculum: CurriculumScheduler, seed: int, per_sample: bool = False, behaviour_mode: PromptMode | str = PromptMode.HYBRID):
        self.curriculum = curriculum
        self.per_sample = per_sample
        self.behaviour_mode = PromptMode(behaviour_mode)
        self.rng = np.random.default_rng([seed, 0xC0FFEE])
        self.hybrid = 0
        self.total = 0
        self.last_p = 0.0

    def draw(self, step: int, total_steps: int, batch_size: int, n_templates: int, rank: int = 0, world_size: int = 1) -> tuple[list[PromptMode], int, float]:
        """(modes per sample, template index, p) for the next micro-batch of this rank.

        Every rank draws the same numbers (one generator, same seed): per-batch draws are equal
        on all ranks, and per-sample draws are made for the global batch (``batch_size *
        world_size`` samples), of which this rank takes its round-robin share — the same
        decisions a single process would make for the same global batch.
        """
        p = self.curriculum(step, total_steps)
        self.last_p = p
        template = int(self.rng.integers(0, n_templates))
        if self.per_sample:
            hyb = (self.rng.random(batch_size * world_size) < p).tolist()[rank::world_size]
        else:
            hyb = [bool(self.rng.random() < p)] * batch_size
        self.hybrid += sum(hyb)
        self.total += batch_size
        return [self.behaviour_mode if h else PromptMode.TEXT for h in hyb], template, p

    @property
    def hybrid_fraction(self) -> float:
        return self.hybrid / self.total if self.total else 0.0

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "hybrid": self.hybrid,
            "total": self.total,
            "curriculum": self.curriculum.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.hybrid, self.total = state["hybrid"], state["total"]
        self.curriculum.load_state_dict(state["curriculum"])
