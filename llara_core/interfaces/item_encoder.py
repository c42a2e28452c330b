"""ItemEncoder: the behaviour side of LLaRA, and a stand-alone sequential recommender."""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from llara_core.errors import UsageError
from llara_core.interfaces.component import Component
from llara_core.registry import NoParams

_CHECKED = "_llara_checked_inputs"


def _check_ids(encoder: Any, ids: Any, what: str) -> None:
    """Item ids must be an integer tensor within 0..n_items (n_items = padding)."""
    if not torch.is_tensor(ids):
        raise UsageError(f"{type(encoder).__name__}.{what}: expected a LongTensor of item ids, got {type(ids).__name__}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise UsageError(f"{type(encoder).__name__}.{what}: expected integer item ids, got a {ids.dtype} tensor")
    if ids.numel() == 0:
        return
    n = int(getattr(encoder, "n_items", -1))
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or (n >= 0 and high > n):
        bad = low if low < 0 else high
        raise UsageError(
            f"{type(encoder).__name__}.{what}: item id {bad} outside the catalogue 0..{n - 1} "
            f"(and {n}, the padding id); this encoder was built for n_items={n}"
        )


def _checked_embed_items(fn: Any) -> Any:
    @functools.wraps(fn)
    def embed_items(self: Any, item_ids: Any, *args: Any, **kwargs: Any) -> Any:
        _check_ids(self, item_ids, "embed_items")
        return fn(self, item_ids, *args, **kwargs)

    setattr(embed_items, _CHECKED, True)
    return embed_items


def _checked_score(fn: Any) -> Any:
    @functools.wraps(fn)
    def score(self: Any, history: Any, lengths: Any, *args: Any, **kwargs: Any) -> Any:
        name = type(self).__name__
        _check_ids(self, history, "score")
        if history.dim() != 2:
            raise UsageError(f"{name}.score: history must be (batch, length), got shape {tuple(history.shape)}")
        if not torch.is_tensor(lengths) or lengths.dim() != 1 or lengths.shape[0] != history.shape[0]:
            shape = tuple(lengths.shape) if torch.is_tensor(lengths) else type(lengths).__name__
            raise UsageError(f"{name}.score: lengths must be a ({history.shape[0]},) LongTensor, got {shape}")
        if lengths.numel() and (int(lengths.min()) < 1 or int(lengths.max()) > history.shape[1]):
            raise UsageError(
                f"{name}.score: lengths must lie in 1..{history.shape[1]} (the history width), "
                f"got {int(lengths.min())}..{int(lengths.max())}"
            )
        return fn(self, history, lengths, *args, **kwargs)

    setattr(score, _CHECKED, True)
    return score


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every implementation's ``embed_items`` and ``score`` check their inputs first (item
        ids within the catalogue, shapes, lengths), so a wrong input is one
        :class:`~llara_core.errors.UsageError` naming the encoder, not a torch IndexError."""
        super().__init_subclass__(**kwargs)
        for name, wrap in (("embed_items", _checked_embed_items), ("score", _checked_score)):
            fn = cls.__dict__.get(name)
            if callable(fn) and not getattr(fn, "__isabstractmethod__", False) and not getattr(fn, _CHECKED, False):
                setattr(cls, name, wrap(fn))

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
