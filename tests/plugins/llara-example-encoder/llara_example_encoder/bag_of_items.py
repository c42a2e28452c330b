"""A bag-of-items sequential recommender: mean of the history's item embeddings -> linear scorer.

Order-blind on purpose: the smallest real model that honours llara's ItemEncoder contract.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from llara_core.interfaces import ItemEncoder


class BagOfItemsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dim: int = Field(64, gt=0, description="behaviour embedding size")
    history_len: int = Field(10, gt=0, description="longest history the encoder reads")


class BagOfItemsEncoder(ItemEncoder):
    """Mean of the history's item embeddings, scored by Linear(dim, n_items)."""

    Params = BagOfItemsParams

    def __init__(self, n_items: int, dim: int = 64, history_len: int = 10):
        super().__init__()
        # the attributes llara reads; hyperparameters() needs nothing from you
        self.n_items, self.dim, self.history_len = n_items, dim, history_len
        # row n_items is padding: kept at zero and never updated
        self.item_embeddings = nn.Embedding(n_items + 1, dim, padding_idx=n_items)
        self.scorer = nn.Linear(dim, n_items)

    def embed_items(self, item_ids: torch.Tensor) -> torch.Tensor:
        """``(...)`` long -> ``(..., dim)``; padding ids give zeros."""
        return self.item_embeddings(item_ids)

    def score(self, history: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` padded history, ``(B,)`` lengths -> ``(B, n_items)`` next-item logits."""
        positions = torch.arange(history.shape[1], device=history.device)
        mask = (positions[None, :] < lengths[:, None]).unsqueeze(-1)  # (B, L, 1): real items
        mean = (self.embed_items(history) * mask).sum(1) / lengths.clamp(min=1)[:, None]
        return self.scorer(mean)
