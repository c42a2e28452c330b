"""Projector: behaviour embeddings into the LLM's input-embedding space."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from llara_core.interfaces.component import Component
from llara_core.registry import NoParams


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

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., in_dim)`` -> ``(..., out_dim)``."""
