"""LLaRA's curriculum: the hybrid probability grows linearly with the global step."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from llara_core.interfaces import CurriculumScheduler


def progress(step: int, total_steps: int) -> float:
    """Fraction of training done: 0 at step 0, 1 at the last step (``total_steps - 1``)."""
    return min(1.0, max(0.0, step / max(1, total_steps - 1)))


class LinearParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    start: float = Field(0.0, ge=0.0, le=1.0, description="p at step 0")
    end: float = Field(1.0, ge=0.0, le=1.0, description="p at the last step")


class LinearCurriculum(CurriculumScheduler):
    """p(t) = start + (end - start) * t / (T - 1); LLaRA's p = t/T with the defaults."""

    Params = LinearParams

    def probability(self, step: int, total_steps: int) -> float:
        p = self.params
        return p.start + (p.end - p.start) * progress(step, total_steps)
