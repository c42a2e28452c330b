"""SASRec as used by LLaRA: one causal self-attention block over the last ``history_len`` items.

Parameter names follow LLaRA's reference module (``item_embeddings``, ``positional_embeddings``,
``ln_1..3``, ``mh_attn.linear_q/k/v``, ``feed_forward.w_1/w_2`` as 1x1 Conv1d,
``feed_forward.layer_norm``, ``s_fc``) so its released weights load without renaming.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from llara_core.errors import UsageError
from llara_core.interfaces import ItemEncoder
from llara_plugins.item_encoders.params import SASRecParams

#: the reference's replacement score for masked keys (``-2 ** 32 + 1``)
MASKED_SCORE = -(2.0**32) + 1


class CausalSelfAttention(nn.Module):
    """The reference attention: Q from the normalised sequence, K and V from the raw one.

    Scores are divided by ``sqrt(dim)`` (the whole hidden size, as in the reference), padded
    keys and future keys are replaced by a large negative score, padded queries get no
    attention, and the output is added to the (normalised) queries.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float):
        super().__init__()
        self.dim, self.num_heads = dim, num_heads
        self.linear_q = nn.Linear(dim, dim)
        self.linear_k = nn.Linear(dim, dim)
        self.linear_v = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> (B, h, L, D/h)
        b, length, _ = x.shape
        return x.view(b, length, self.num_heads, self.dim // self.num_heads).transpose(1, 2)

    def weights(self, queries: torch.Tensor, keys: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Attention weights ``(B, h, L, L)``; ``valid`` is the ``(B, L)`` bool padding mask."""
        q, k = self._heads(self.linear_q(queries)), self._heads(self.linear_k(keys))
        scores = q @ k.transpose(-1, -2) / self.dim**0.5
        length = keys.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=keys.device).tril()
        allowed = causal & valid[:, None, None, :]
        weights = torch.softmax(scores.masked_fill(~allowed, MASKED_SCORE), dim=-1)
        return weights * valid[:, None, :, None].to(weights.dtype)

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """``(B, L, D)`` queries and keys, ``(B, L)`` bool valid -> ``(B, L, D)``."""
        v = self._heads(self.linear_v(keys))
        out = self.dropout(self.weights(queries, keys, valid)) @ v
        b, _, length, _ = out.shape
        return out.transpose(1, 2).reshape(b, length, self.dim) + queries


class PointWiseFeedForward(nn.Module):
    """``layer_norm(dropout(w_2(relu(w_1(x)))) + x)`` with 1x1 convolutions over positions."""

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.w_1 = nn.Conv1d(dim, dim, 1)
        self.w_2 = nn.Conv1d(dim, dim, 1)
        self.layer_norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.w_2(F.relu(self.w_1(x.transpose(1, 2)))).transpose(1, 2)
        return self.layer_norm(self.dropout(out) + x)


class SASRec(ItemEncoder):
    """Self-attentive sequential recommender (LLaRA's SASRec: 1 block, hidden 64, history 10)."""

    Params = SASRecParams
    #: training defaults used by ``llara sr train`` when no flag overrides them
    train_defaults: ClassVar[dict] = {
        "lr": 3e-3, "weight_decay": 1e-4, "epochs": 40, "patience": 15, "schedule": "cosine",
    }

    def __init__(self, n_items: int, dim: int = 64, history_len: int = 10, num_heads: int = 1, dropout: float = 0.5):
        super().__init__()
        self.n_items, self.dim, self.history_len = int(n_items), dim, history_len
        self.item_embeddings = nn.Embedding(self.n_items + 1, dim)
        nn.init.normal_(self.item_embeddings.weight, 0.0, 1.0)
        self.positional_embeddings = nn.Embedding(history_len, dim)
        self.emb_dropout = nn.Dropout(dropout)
        self.ln_1 = nn.LayerNorm(dim)
        self.ln_2 = nn.LayerNorm(dim)
        self.ln_3 = nn.LayerNorm(dim)
        self.mh_attn = CausalSelfAttention(dim, num_heads, dropout)
        self.feed_forward = PointWiseFeedForward(dim, dropout)
        self.s_fc = nn.Linear(dim, self.n_items)

    def embed_items(self, item_ids: torch.Tensor) -> torch.Tensor:
        return self.item_embeddings(item_ids)

    def sequence_states(self, history: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` padded history -> ``(B, L, dim)`` per-position states (zero at padding)."""
        length = history.shape[1]
        if length > self.history_len:
            raise UsageError(f"history of length {length} exceeds history_len {self.history_len}")
        valid = history != self.pad_id
        mask = valid.unsqueeze(-1).to(self.item_embeddings.weight.dtype)
        positions = torch.arange(length, device=history.device)
        seq = self.emb_dropout(self.item_embeddings(history) + self.positional_embeddings(positions)) * mask
        attended = self.mh_attn(self.ln_1(seq), seq, valid)
        return self.ln_3(self.feed_forward(self.ln_2(attended)) * mask)

    def score(self, history: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        states = self.sequence_states(history)
        last = states[torch.arange(history.shape[0], device=history.device), lengths.to(history.device) - 1]
        return self.s_fc(last)
