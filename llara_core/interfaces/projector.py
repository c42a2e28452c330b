"""Projector: behaviour embeddings into the LLM's input-embedding space."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from llara_core.errors import UsageError
from llara_core.interfaces.component import Component
from llara_core.registry import NoParams

_CHECKED = "_llara_checked_inputs"


def _checked_forward(fn: Any) -> Any:
    @functools.wraps(fn)
    def forward(self: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
        in_dim = getattr(self, "in_dim", None)
        if not torch.is_tensor(x):
            raise UsageError(f"{type(self).__name__}: expected a float tensor (..., {in_dim}), got {type(x).__name__}")
        if isinstance(in_dim, int) and (x.dim() == 0 or x.shape[-1] != in_dim):
            raise UsageError(
                f"{type(self).__name__}: input of shape {tuple(x.shape)} has last dimension "
                f"{x.shape[-1] if x.dim() else None}, but this projector maps in_dim={in_dim} "
                f"(the item encoder's dim it was built for) to out_dim={getattr(self, 'out_dim', '?')}"
            )
        return fn(self, x, *args, **kwargs)

    setattr(forward, _CHECKED, True)
    return forward


class Projector(nn.Module, Component, ABC):
    """``(..., in_dim)`` float -> ``(..., out_dim)`` float; all parameters trainable.

    Built as ``cls(in_dim=..., out_dim=..., **params)``:

      * ``in_dim`` (runtime argument, int): the item encoder's ``dim``.
      * ``out_dim`` (runtime argument, int): the backbone's hidden size (the width of its input
        embeddings).
      * ``**params``: every field of ``Params``, by keyword.

    Neither size is typed by the user. A projector that cannot map a pair of sizes (``identity``
    with ``in_dim != out_dim``) refuses it in ``__init__`` with a
    :class:`~llara_core.errors.ConfigError`. llara reads no attribute of a projector (setting
    ``in_dim`` and ``out_dim`` is customary); it calls it (``forward``) on ``(M, in_dim)`` rows and
    uses the ``nn.Module`` API (``parameters``, ``state_dict``: run checkpoints hold the
    projector's tensors). Each row is mapped on its own; the output dtype follows the input and
    the parameters' dtype. ``hyperparameters()`` is provided (see
    :class:`~llara_core.interfaces.component.Component`).
    """

    Params: ClassVar[type[BaseModel]] = NoParams

    in_dim: int
    out_dim: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every implementation's ``forward`` checks the input's last dimension against
        ``in_dim`` (when set) first: a wrong size is one UsageError, not a torch matmul error."""
        super().__init_subclass__(**kwargs)
        fn = cls.__dict__.get("forward")
        if callable(fn) and not getattr(fn, "__isabstractmethod__", False) and not getattr(fn, _CHECKED, False):
            cls.forward = _checked_forward(fn)

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., in_dim)`` -> ``(..., out_dim)``."""
