"""ItemEncoder: the behaviour side of LLaRA, and a stand-alone sequential recommender."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from llara_core.registry import NoParams


class ItemEncoder(nn.Module, ABC):
    """Maps item ids to behaviour embeddings and scores the next item of a history.

    Contract:
      * Item ids are ``0 .. n_items-1``; the id ``n_items`` is padding (``self.pad_id``).
      * ``embed_items(ids)``: LongTensor of any shape ``(...)`` -> FloatTensor ``(..., dim)``,
        the behaviour embeddings LLaRA feeds to the projector. Padding ids map to zeros or to the
        padding row; callers never use them.
      * ``score(history, lengths)``: ``history`` LongTensor ``(B, L)`` with ``L <= history_len``,
        real items first in time order then padding; ``lengths`` LongTensor ``(B,)`` with
        ``1 <= lengths <= L``. Returns FloatTensor ``(B, n_items)`` of next-item logits. Padding
        positions receive neither attention nor gradient.
      * Trainable when trained as a recommender; frozen (``requires_grad=False``, eval mode) inside
        LLaRA.
      * Constructed as ``cls(n_items=..., **params)``; ``Params`` is the pydantic model of the
        hyper-parameters (``dim`` and ``history_len`` among them). Persistence (safetensors +
        JSON) lives in :mod:`llara_core.sr.checkpoint`, keyed by the registered name.
    """

    Params: ClassVar[type[BaseModel]] = NoParams

    n_items: int
    dim: int
    history_len: int

    @property
    def pad_id(self) -> int:
        return self.n_items

    @abstractmethod
    def embed_items(self, item_ids: torch.Tensor) -> torch.Tensor:
        """``(...)`` long -> ``(..., dim)`` float behaviour embeddings."""

    @abstractmethod
    def score(self, history: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``(B, L)`` padded history, ``(B,)`` lengths -> ``(B, n_items)`` next-item logits."""

    def forward(self, history: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.score(history, lengths)

    def hyperparameters(self) -> dict:
        """The params this encoder was built with (JSON-serialisable), excluding ``n_items``."""
        return dict(getattr(self, "_hparams", {}))
