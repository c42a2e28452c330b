"""LLaRA's projector: Linear(in -> out), GELU, Linear(out -> out)."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from llara_core.interfaces import Projector


class MLPParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden_dim: int | None = Field(None, gt=0, description="inner width; None = out_dim (LLaRA)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


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
