"""CurriculumScheduler: how often the hybrid prompt is used as training goes on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel

from llara_core.registry import NoParams


class CurriculumScheduler(ABC):
    """``(step, total_steps) -> p`` in ``[0, 1]``, the probability of a hybrid prompt.

    ``step`` is the trainer's global optimiser step (0-based), ``total_steps`` the planned
    number of optimiser steps (>= 1). ``probability`` must be a pure function of its inputs and
    the params: the trainer owns the step counter, so resuming a run or changing the number of
    data-loader workers cannot change the curriculum. ``state_dict`` holds the params only.
    """

    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, **params: Any):
        self._params = self.Params(**params)

    @abstractmethod
    def probability(self, step: int, total_steps: int) -> float:
        """Probability of a hybrid prompt at global step ``step`` of ``total_steps``."""

    def __call__(self, step: int, total_steps: int) -> float:
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        p = float(self.probability(step, total_steps))
        return min(1.0, max(0.0, p))

    @property
    def params(self) -> BaseModel:
        return self._params

    def state_dict(self) -> dict[str, Any]:
        return {"class": type(self).__qualname__, "params": self._params.model_dump()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._params = self.Params(**state["params"])
