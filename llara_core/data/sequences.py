"""Turning per-user interaction sequences into next-item samples (shared by the preparers).

A user's sequence is its items in time order. ``all`` mode gives one sample per interaction
(history = up to ``history_len`` previous items, from the empty history on: LLaRA's train
rows); ``last`` mode gives only the last interaction (LLaRA's val/test rows). Samples whose
history is shorter than ``min_history`` are dropped; for ``min_history >= 2`` this equals
LLaRA's ``len_seq >= min_history`` filter (``len_seq`` counts an empty history as 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from llara_core.data.dataset import Sample, Split


@dataclass
class UserSequence:
    """One user's interactions in time order: item ids and optional ratings (same length)."""

    items: list[int] = field(default_factory=list)
    ratings: list[float | None] = field(default_factory=list)


def sequence_samples(
    user: Any,
    seq: UserSequence,
    history_len: int,
    mode: Literal["all", "last"],
    end: int | None = None,
) -> list[Sample]:
    """Samples of one user from its interactions ``[:end]`` (all of them when ``end`` is None)."""
    items = seq.items if end is None else seq.items[:end]
    positions = range(len(items)) if mode == "all" else range(len(items) - 1, len(items))
    return [
        Sample(tuple(items[max(0, k - history_len) : k]), items[k], user, seq.ratings[k])
        for k in positions
        if k >= 0
    ]


def build_split(
    name: str,
    users: Iterable[Any],
    sequences: Mapping[Any, UserSequence],
    history_len: int,
    min_history: int,
    mode: Literal["all", "last"],
    end_offset: int = 0,
) -> tuple[Split, int]:
    """(Split of ``users``' samples with ``len(history) >= min_history``, samples before that
    filter). ``end_offset`` > 0 drops each user's last ``end_offset`` interactions first
    (leave-last-out splits)."""
    split = Split(name)
    before = 0
    for user in users:
        seq = sequences[user]
        end = len(seq.items) - end_offset if end_offset else None
        for sample in sequence_samples(user, seq, history_len, mode, end):
            before += 1
            if len(sample.history) >= min_history:
                split.append(sample)
    return split, before


def random_user_split(
    users: Sequence[Any], val_frac: float, test_frac: float, seed: int
) -> tuple[set[Any], set[Any]]:
    """(val users, test users) drawn with NumPy's PCG64 from ``seed``: a permutation of
    ``users`` (in the given order), the first ``round(val_frac * n)`` to val, the next
    ``round(test_frac * n)`` to test."""
    n = len(users)
    n_val, n_test = round(val_frac * n), round(test_frac * n)
    order = np.random.default_rng(seed).permutation(n).tolist()
    val = {users[i] for i in order[:n_val]}
    test = {users[i] for i in order[n_val : n_val + n_test]}
    return val, test
