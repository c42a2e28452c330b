"""A single affine map from behaviour space to the LLM's hidden size."""

from __future__ import annotations

import torch
from torch import nn

from llara_core.interfaces import Projector
from llara_plugins.projectors.params import LinearParams


class LinearProjector(Projector):
    """Linear(d, H): the smallest projector, a baseline for the MLP."""

    Params = LinearParams

    def __init__(self, in_dim: int, out_dim: int, bias: bool = True):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.proj = nn.Linear(in_dim, out_dim, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)
