"""LLaRA's projector: Linear(in -> out), GELU, Linear(out -> out)."""

from __future__ import annotations

import torch
from torch import nn

from llara_core.interfaces import Projector
from llara_plugins.projectors.params import MLPParams


class MLPProjector(Projector):
    """LLaRA's two-layer MLP: Linear(d, h) -> GELU -> Linear(h, H), h = H by default."""

    Params = MLPParams

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int | None = None, dropout: float = 0.0):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        hidden = hidden_dim or out_dim
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
