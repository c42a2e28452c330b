"""Identity projector, valid only when the behaviour dim equals the LLM hidden size."""

from __future__ import annotations

import torch

from llara_core.errors import ConfigError
from llara_core.interfaces import Projector


class IdentityProjector(Projector):
    """Passes embeddings through unchanged; requires in_dim == out_dim (checked at build)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        if in_dim != out_dim:
            raise ConfigError([(
                "projector.name",
                f"'identity' needs the item encoder dim ({in_dim}) to equal the "
                f"backbone hidden size ({out_dim}); use 'linear' or 'mlp'",
            )])
        self.in_dim = self.out_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x
