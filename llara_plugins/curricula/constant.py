"""A fixed hybrid probability: 0 = text-only training, 1 = hybrid without curriculum."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from llara_core.interfaces import CurriculumScheduler


class ConstantParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p: float = Field(1.0, ge=0.0, le=1.0, description="probability of a hybrid prompt")


class ConstantCurriculum(CurriculumScheduler):
    """p(t) = p for every step (no curriculum)."""

    Params = ConstantParams

    def probability(self, step: int, total_steps: int) -> float:
        return self.params.p
