"""Projector: behaviour embeddings into the LLM's input-embedding space."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from llara_core.registry import NoParams


class Projector(nn.Module, ABC):
    """``(..., in_dim)`` float -> ``(..., out_dim)`` float; all parameters trainable.

    Constructed as ``cls(in_dim=..., out_dim=..., **params)``: ``in_dim`` is the item encoder's
    ``dim`` and ``out_dim`` the backbone's hidden size, both supplied at build time, never typed
    by the user. The output dtype follows the input dtype of the parameters.
    """

    Params: ClassVar[type[BaseModel]] = NoParams

    in_dim: int
    out_dim: int

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., in_dim)`` -> ``(..., out_dim)``."""
