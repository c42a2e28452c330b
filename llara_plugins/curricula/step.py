"""Piecewise-constant curriculum: switch the hybrid probability at fractions of training."""

from __future__ import annotations

import bisect

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llara_core.interfaces import CurriculumScheduler
from llara_plugins.curricula.linear import progress


class StepParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    boundaries: list[float] = Field(
        default_factory=lambda: [0.5], description="increasing fractions of training in (0, 1]"
    )
    values: list[float] = Field(
        default_factory=lambda: [0.0, 1.0], description="p before, between and after boundaries"
    )

    @model_validator(mode="after")
    def _check(self) -> StepParams:
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError("values needs exactly one more entry than boundaries")
        if any(not 0.0 < b <= 1.0 for b in self.boundaries) or self.boundaries != sorted(self.boundaries):
            raise ValueError("boundaries must be increasing fractions in (0, 1]")
        if any(not 0.0 <= v <= 1.0 for v in self.values):
            raise ValueError("values must be probabilities in [0, 1]")
        return self


class StepCurriculum(CurriculumScheduler):
    """p(t) = values[k] where k = number of boundaries <= t / (T - 1)."""

    Params = StepParams

    def probability(self, step: int, total_steps: int) -> float:
        k = bisect.bisect_right(self.params.boundaries, progress(step, total_steps))
        return self.params.values[k]
