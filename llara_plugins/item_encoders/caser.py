"""Caser as used by LLaRA: horizontal and vertical convolutions over the history's embedding matrix."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from llara_core.errors import UsageError
from llara_core.interfaces import ItemEncoder
from llara_plugins.item_encoders.params import CaserParams


class Caser(ItemEncoder):
    """Convolutional sequence embedding (LLaRA's Caser: heights 2,3,4 x 16 filters, one vertical)."""

    Params = CaserParams
    train_defaults: ClassVar[dict] = {"lr": 1e-3, "weight_decay": 0.0, "epochs": 100, "patience": 10}

    def __init__(
        self,
        n_items: int,
        dim: int = 64,
        history_len: int = 10,
        num_filters: int = 16,
        filter_sizes: list[int] | tuple[int, ...] = (2, 3, 4),
        dropout: float = 0.1,
    ):
        super().__init__()
        self.n_items, self.dim, self.history_len = int(n_items), dim, history_len
        filter_sizes = [int(h) for h in filter_sizes]
        self.item_embeddings = nn.Embedding(self.n_items + 1, dim)
        nn.init.normal_(self.item_embeddings.weight, 0.0, 0.01)
        self.horizontal_cnn = nn.ModuleList(nn.Conv2d(1, num_filters, (h, dim)) for h in filter_sizes)
        self.vertical_cnn = nn.Conv2d(1, 1, (history_len, 1))
        for conv in [*self.horizontal_cnn, self.vertical_cnn]:
            nn.init.xavier_normal_(conv.weight)
            nn.init.constant_(conv.bias, 0.1)
        self.dropout = nn.Dropout(dropout)
        self.s_fc = nn.Linear(dim + num_filters * len(filter_sizes), self.n_items)

    def embed_items(self, item_ids: torch.Tensor) -> torch.Tensor:
        return self.item_embeddings(item_ids)

    def score(self, history: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        length = history.shape[1]
        if length > self.history_len:
            raise UsageError(f"history of length {length} exceeds history_len {self.history_len}")
        if length < self.history_len:  # the vertical filter spans exactly history_len rows
            history = F.pad(history, (0, self.history_len - length), value=self.pad_id)
        mask = (history != self.pad_id).unsqueeze(-1).to(self.item_embeddings.weight.dtype)
        emb = (self.item_embeddings(history) * mask).unsqueeze(1)  # (B, 1, L, dim), padding = 0
        pooled = []
        for conv in self.horizontal_cnn:
            h = F.relu(conv(emb)).squeeze(3)  # (B, filters, L - height + 1)
            pooled.append(h.amax(dim=2))
        vertical = F.relu(self.vertical_cnn(emb)).flatten(1)  # (B, dim)
        return self.s_fc(self.dropout(torch.cat([*pooled, vertical], dim=1)))
