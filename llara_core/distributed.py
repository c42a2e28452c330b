"""Sharding work over ranks and gathering the results back, every sample exactly once.

``shard(n, rank, world)`` gives a rank the indices ``rank, rank + world, ...`` padded with
repeats of its first index so every rank runs the same number of forward passes (FSDP's
collectives need that); ``gather_in_order`` drops the padding and returns the per-sample results
of all ranks in the original order, on every rank. With one process both are the identity.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any


def world_of(fabric: Any) -> tuple[int, int]:
    """(rank, world size) of ``fabric`` (``(0, 1)`` without one)."""
    if fabric is None:
        return 0, 1
    return int(fabric.global_rank), int(fabric.world_size)


def shard(n: int, rank: int, world: int) -> tuple[list[int], int]:
    """(indices this rank computes, how many of them are real): round-robin, padded to
    ``ceil(n / world)`` with repeats of the rank's first index (or index 0)."""
    mine = list(range(rank, n, world))
    per_rank = math.ceil(n / world) if n else 0
    pad = (mine[:1] or [0]) * (per_rank - len(mine))
    return mine + pad, len(mine)


def gather_in_order(fabric: Any, n: int, local: Sequence[Any]) -> list[Any]:
    """Per-sample results of every rank (each ``local`` computed on ``shard(n, rank, world)``,
    padding included) as one list of length ``n`` in index order, on every rank."""
    rank, world = world_of(fabric)
    if world == 1:
        return list(local[:n])
    import torch.distributed as dist

    parts: list[Any] = [None] * world
    dist.all_gather_object(parts, list(local))
    out: list[Any] = [None] * n
    for r, values in enumerate(parts):
        _, real = shard(n, r, world)
        for j in range(real):
            out[r + j * world] = values[j]
    return out


def sharded_map(fabric: Any, n: int, compute: Callable[[list[int]], Sequence[Any]]) -> list[Any]:
    """``compute(indices)`` on this rank's shard (one result per index, padding included), gathered
    into a list of length ``n`` in index order."""
    rank, world = world_of(fabric)
    indices, _ = shard(n, rank, world)
    return gather_in_order(fabric, n, compute(indices) if indices else [])


def gather_objects(fabric: Any, value: Any) -> list[Any]:
    """``value`` from every rank, in rank order (``[value]`` with one process)."""
    _, world = world_of(fabric)
    if world == 1:
        return [value]
    import torch.distributed as dist

    parts: list[Any] = [None] * world
    dist.all_gather_object(parts, value)
    return parts


def agree_max(fabric: Any, values: Sequence[int]) -> list[int]:
    """The element-wise maximum of ``values`` over every rank (``list(values)`` with one process).
    A collective: every rank must call it at the same point, as the loop does at each optimiser
    step boundary so that a stop seen by one rank (a signal, a clock) is taken by all."""
    _, world = world_of(fabric)
    if world == 1:
        return [int(v) for v in values]
    import torch

    flags = torch.tensor([int(v) for v in values], dtype=torch.int64, device=fabric.device)
    return [int(v) for v in fabric.all_reduce(flags, reduce_op="max").tolist()]


#: the variables in which launchers give a process its place: Fabric's subprocess launcher and
#: torchrun (``RANK``, ``LOCAL_RANK``, ``NODE_RANK``), SLURM's ``srun`` (``SLURM_PROCID``,
#: ``SLURM_LOCALID``, ``SLURM_NODEID``)
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID", "SLURM_LOCALID", "SLURM_NODEID")


def launched_child() -> bool:
    """True in a process that a launcher started as a rank other than the global zero (any of
    :data:`RANK_VARIABLES` set and not 0): such a process must not write the run folder's config
    nor report; the global-zero process does."""
    import os

    return any(os.environ.get(var, "0").strip() not in ("", "0") for var in RANK_VARIABLES)
