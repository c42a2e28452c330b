"""CurriculumScheduler: how often the hybrid prompt is used as training goes on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel

from llara_core.errors import UsageError
from llara_core.interfaces.component import Component
from llara_core.registry import NoParams


class CurriculumScheduler(Component, ABC):
    """``(step, total_steps) -> p`` in ``[0, 1]``, the probability of a hybrid prompt.

    Built as ``cls(**params)`` (no runtime arguments): the provided ``__init__`` validates the
    params with ``Params`` into ``self.params``; a subclass that defines its own ``__init__``
    must accept every field of ``Params`` by keyword and call ``super().__init__(**params)``.

    What llara calls:

      * ``scheduler(step, total_steps)`` (provided ``__call__``): ``probability`` clamped to
        ``[0, 1]``; raises :class:`~llara_core.errors.UsageError` (a ``ValueError``) when
        ``total_steps < 1``.
      * ``probability(step, total_steps)`` (abstract) -> float in ``[0, 1]``. ``step`` is the
        trainer's global optimiser step (0-based, up to ``total_steps``), ``total_steps`` the
        planned number of optimiser steps (>= 1). It must be a pure function of its inputs and the
        params: the trainer owns the step counter, so resuming a run or changing the number of
        data-loader workers cannot change the curriculum.
      * ``state_dict()`` -> JSON-ready dict holding the params only; ``load_state_dict(state)``
        restores them (resumed runs).
      * ``params`` (the validated ``Params``) and ``hyperparameters()`` (provided).
    """

    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, **params: Any):
        self._params = self.Params(**params)

    @abstractmethod
    def probability(self, step: int, total_steps: int) -> float:
        """Probability of a hybrid prompt at global step ``step`` of ``total_steps``."""

    def __call__(self, step: int, total_steps: int) -> float:
        if total_steps < 1:
            raise UsageError(f"total_steps must be >= 1, got {total_steps}")
        p = float(self.probability(step, total_steps))
        return min(1.0, max(0.0, p))

    @property
    def params(self) -> BaseModel:
        params = self.__dict__.get("_params")
        return params if params is not None else self._built_params()

    def hyperparameters(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")

    def state_dict(self) -> dict[str, Any]:
        return {"class": type(self).__qualname__, "params": self.params.model_dump(mode="json")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._params = self.Params(**state["params"])
