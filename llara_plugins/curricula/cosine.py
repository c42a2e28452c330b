"""Cosine-shaped curriculum: slow start, fast middle, slow end."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

from llara_core.interfaces import CurriculumScheduler
from llara_plugins.curricula.linear import progress


class CosineParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: float = Field(0.0, ge=0.0, le=1.0)
    end: float = Field(1.0, ge=0.0, le=1.0)


class CosineCurriculum(CurriculumScheduler):
    """p(t) = start + (end - start) * (1 - cos(pi * t / (T - 1))) / 2."""

    Params = CosineParams

    def probability(self, step: int, total_steps: int) -> float:
        p = self.params
        return p.start + (p.end - p.start) * (1.0 - math.cos(math.pi * progress(step, total_steps))) / 2.0
