"""Training samples and their order.

Workers only fetch raw samples (history, target, candidates); the candidates of sample i in
epoch e are drawn from (seed, "train", i, e), so they do not depend on the number of workers.
The prompt mode (text/hybrid) and template are chosen later, in the training process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import Sampler

from llara_core.data import Split, draw_candidates
from llara_core.errors import DataError


def with_min_history(split: Split, min_history: int, dataset: str, field: str = "data.min_history") -> Split:
    """The rows of ``split`` with at least ``min_history`` history items (``split`` itself when
    all have); DataError naming ``dataset`` and the setting ``field`` when none has."""
    keep = [i for i, h in enumerate(split.histories) if len(h) >= min_history]
    if not keep:
        raise DataError(f"{dataset}: no {split.name} row has at least {min_history} history items ({field})")
    return split.subset(keep) if len(keep) < len(split) else split


class CandidateSamples(TorchDataset):
    """Raw samples of a split with training candidates drawn per (seed, index, epoch)."""

    def __init__(self, split: Split, n_items: int, n_candidates: int, seed: int, history_len: int = 10):
        self.split = split
        self.n_items = n_items
        self.n_candidates = n_candidates
        self.seed = seed
        self.history_len = history_len
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.sample(i, self.epoch)

    def sample(self, i: int, epoch: int) -> dict[str, Any]:
        history = self.split.histories[i][-self.history_len :]
        target = self.split.targets[i]
        cands = draw_candidates(history, target, self.n_items, self.n_candidates, self.seed, self.split.name, i, epoch)
        return {"index": i, "history": history, "target": target, "candidates": cands}

    def length_proxy(self, title_chars: Sequence[int]) -> Callable[[int], list[int]]:
        """``epoch -> [prompt size of sample i]``: title characters of its history and candidates
        plus one per item (proportional to its token count, without tokenising)."""

        def lengths(epoch: int) -> list[int]:
            out = []
            for i in range(len(self)):
                s = self.sample(i, epoch)
                items = list(s["history"]) + list(s["candidates"])
                out.append(sum(title_chars[j] for j in items) + len(items))
            return out

        return lengths


def collate_raw(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return rows


def length_grouped(order: list[int], lengths: Sequence[int], group: int, window: int, rng: np.random.Generator) -> list[int]:
    """``order`` regrouped so that each run of ``group`` consecutive samples has similar lengths:
    within each window of ``group * window`` samples (in the shuffled order) the samples are
    sorted by length, cut into groups, and the groups shuffled. A trailing partial group stays
    last, so group boundaries stay aligned."""
    span = group * window
    out: list[int] = []
    tail: list[int] = []
    for s in range(0, len(order), span):
        chunk = sorted(order[s : s + span], key=lambda i: lengths[i])
        groups = [chunk[j : j + group] for j in range(0, len(chunk), group)]
        if len(groups[-1]) < group:
            tail = groups.pop()
        for k in rng.permutation(len(groups)):
            out.extend(groups[k])
    return out + tail


class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch, sharded by rank, that can start mid-epoch (resume).

    With ``lengths`` (``epoch -> per-sample sizes``) and ``window``, samples are length-grouped
    (:func:`length_grouped`) in global batches of ``batch_size * world_size`` before sharding,
    so every rank's batch holds prompts of similar length; the order stays a pure function of
    (seed, epoch).
    """

    def __init__(
        self,
        n: int,
        seed: int,
        epoch: int = 0,
        start: int = 0,
        rank: int = 0,
        world_size: int = 1,
        lengths: Callable[[int], Sequence[int]] | None = None,
        batch_size: int = 1,
        window: int | None = None,
    ):
        self.n, self.seed, self.epoch, self.start = n, seed, epoch, start
        self.rank, self.world_size = rank, world_size
        self.lengths, self.batch_size, self.window = lengths, batch_size, window

    def order(self) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        perm = torch.randperm(self.n, generator=g).tolist()
        if self.lengths is not None and self.window:
            rng = np.random.default_rng([self.seed, self.epoch, 0x1E6])
            perm = length_grouped(perm, self.lengths(self.epoch), self.batch_size * self.world_size, self.window, rng)
        usable = len(perm) - len(perm) % self.world_size
        return perm[self.rank : usable : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.start :])

    def __len__(self) -> int:
        return max(0, self.n // self.world_size - self.start)
