"""Training samples and their order.

Workers only fetch raw samples (history, target, candidates); the candidates of sample i in
epoch e are drawn from (seed, "train", i, e), so they do not depend on the number of workers.
The prompt mode (text/hybrid) and template are chosen later, in the training process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import Sampler

from llara_core.data import Split, draw_candidates


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
        history = self.split.histories[i][-self.history_len :]
        target = self.split.targets[i]
        cands = draw_candidates(history, target, self.n_items, self.n_candidates, self.seed, self.split.name, i, self.epoch)
        return {"index": i, "history": history, "target": target, "candidates": cands}


def collate_raw(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return rows


class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch, sharded by rank, that can start mid-epoch (resume)."""

    def __init__(self, n: int, seed: int, epoch: int = 0, start: int = 0, rank: int = 0, world_size: int = 1):
        self.n, self.seed, self.epoch, self.start = n, seed, epoch, start
        self.rank, self.world_size = rank, world_size

    def order(self) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        perm = torch.randperm(self.n, generator=g).tolist()
        usable = len(perm) - len(perm) % self.world_size
        return perm[self.rank : usable : self.world_size]

    def __iter__(self) -> Iterator[int]:
        return iter(self.order()[self.start :])

    def __len__(self) -> int:
        return max(0, self.n // self.world_size - self.start)
