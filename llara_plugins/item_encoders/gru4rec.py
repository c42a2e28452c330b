"""GRU4Rec as used by LLaRA: a GRU over the real items of the history, final hidden -> s_fc."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from llara_core.errors import UsageError
from llara_core.interfaces import ItemEncoder
from llara_plugins.item_encoders.params import GRU4RecParams


class GRU4Rec(ItemEncoder):
    """Recurrent sequential recommender (LLaRA's GRU4Rec: one GRU layer, hidden 64)."""

    Params = GRU4RecParams
    train_defaults: ClassVar[dict] = {"lr": 1e-3, "weight_decay": 0.0, "epochs": 100, "patience": 10}

    def __init__(self, n_items: int, dim: int = 64, history_len: int = 10, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.n_items, self.dim, self.history_len = int(n_items), dim, history_len
        self.item_embeddings = nn.Embedding(self.n_items + 1, dim)
        nn.init.normal_(self.item_embeddings.weight, 0.0, 0.01)
        self.dropout = nn.Dropout(dropout)
        self.gru = nn.GRU(dim, dim, num_layers=num_layers, batch_first=True)
        self.s_fc = nn.Linear(dim, self.n_items)

    def embed_items(self, item_ids: torch.Tensor) -> torch.Tensor:
        return self.item_embeddings(item_ids)

    def score(self, history: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if history.shape[1] > self.history_len:
            raise UsageError(f"history of length {history.shape[1]} exceeds history_len {self.history_len}")
        # an empty history is one padding position: masked to a zero input, so no gradient reaches
        # the padding row; positions past ``lengths`` are never fed to the GRU (packing)
        mask = (history != self.pad_id).unsqueeze(-1).to(self.item_embeddings.weight.dtype)
        emb = self.dropout(self.item_embeddings(history) * mask)
        packed = pack_padded_sequence(emb, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, hidden = self.gru(packed)  # (num_layers, B, dim), in the input's batch order
        return self.s_fc(self.dropout(hidden[-1]))
