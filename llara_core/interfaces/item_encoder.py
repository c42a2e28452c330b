"""ItemEncoder: the behaviour side of LLaRA, and a stand-alone sequential recommender."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from llara_core.interfaces.component import Component
from llara_core.registry import NoParams


class ItemEncoder(nn.Module, Component, ABC):
    """Maps item ids to behaviour embeddings and scores the next item of a history.

    Built as ``cls(n_items=..., **params)``:

      * ``n_items`` (runtime argument, int >= 1): the catalogue size, from the dataset's manifest
        (``llara sr train``, ``llara train`` with an untrained encoder) or from the checkpoint
        (loading a trained encoder). Never typed by the user.
      * ``**params``: every field of ``Params`` (``extra="forbid"``), by keyword; the fields
        ``dim`` and ``history_len`` are customary but not required: the attributes below are.

    Attributes llara reads (set them in ``__init__``):

      * ``n_items`` (int): as passed; compared with the dataset's and stored in checkpoints.
      * ``dim`` (int): the behaviour embedding size, the projector's ``in_dim``.
      * ``history_len`` (int): the longest history ``score`` accepts; ``llara sr train`` and
        ``llara sr evaluate`` pad or cut histories to it.
      * ``pad_id`` (int, provided: ``n_items``): the padding id.
      * ``train_defaults`` (optional class attribute, dict): training settings ``llara sr train``
        uses when the user gives none (``lr``, ``weight_decay``, ``epochs``, ``patience``, ...).

    Methods:

      * ``embed_items(ids)``: LongTensor of any shape ``(...)`` -> FloatTensor ``(..., dim)``,
        the behaviour embeddings LLaRA feeds to the projector. Padding ids map to zeros or to the
        padding row; callers never use them.
      * ``score(history, lengths)``: ``history`` LongTensor ``(B, L)`` with ``L <= history_len``,
        real items first in time order then padding; ``lengths`` LongTensor ``(B,)`` with
        ``1 <= lengths <= L``. Returns FloatTensor ``(B, n_items)`` of next-item logits. Padding
        positions receive neither attention nor gradient: what sits there does not change the
        scores, and the padding row of an ``(n_items + 1, ...)`` table gets no gradient.
        ``forward`` is ``score``.
      * ``hyperparameters()`` (provided): the validated params, stored in checkpoints; the
        registry fills it in at build time (see :class:`~llara_core.interfaces.component.Component`).
      * the ``nn.Module`` API: ``state_dict``/``load_state_dict`` (checkpoints hold exactly the
        state dict), ``parameters``, ``train``/``eval``, ``requires_grad_``.

    Trainable when trained as a recommender; frozen (``requires_grad=False``, eval mode) inside
    LLaRA. Outputs follow the parameters' dtype. Persistence (safetensors + JSON) lives in
    :mod:`llara_core.sr.checkpoint`, keyed by the registered name.
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
        """The params this encoder stands for (JSON-ready), excluding ``n_items``: set by
        ``Registry.build`` from the params it validated, or read from the constructor's arguments
        for an encoder constructed directly."""
        return super().hyperparameters()
