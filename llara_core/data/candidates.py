"""Candidate sets: drawn once per (split, sample index, seed), persisted, shared by every method.

Each set is the target plus ``n - 1`` items drawn uniformly without replacement from the
catalogue minus the sample's history and target, in a shuffled order. The generator of sample
``i`` is seeded from ``(seed, split, i)`` only (a counter-based scheme through NumPy's
SeedSequence), so the sets do not depend on the process, the machine or the number of workers
that draw them. Persisted sets live in ``candidates/{split}-n{N}-seed{S}.jsonl`` with their
sha256 recorded in the dataset manifest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from llara_core.data.dataset import Dataset, read_manifest, write_manifest
from llara_core.data.hashing import sha256_file
from llara_core.errors import DataError

CANDIDATE_DIR = "candidates"


def _split_code(split: str) -> int:
    return int.from_bytes(hashlib.sha256(split.encode()).digest()[:4], "little")


def draw_candidates(
    history: Sequence[int],
    target: int,
    n_items: int,
    n: int,
    seed: int,
    split: str,
    index: int,
    epoch: int = 0,
) -> list[int]:
    """The candidate list of one sample (length ``n``, target exactly once, no history item).

    ``epoch`` lets training draw fresh negatives per epoch with the same guarantees.
    """
    excluded = set(int(h) for h in history)
    excluded.add(int(target))
    if n_items - len(excluded) < n - 1:
        raise DataError(
            f"{split} row {index}: cannot draw {n - 1} negatives from {n_items} items minus "
            f"{len(excluded)} excluded ones; lower the number of candidates"
        )
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _split_code(split), int(index), int(epoch)])
    picks: list[int] = []
    chosen: set[int] = set()
    while len(picks) < n - 1:
        for x in rng.integers(0, n_items, size=2 * n).tolist():
            if x not in excluded and x not in chosen:
                chosen.add(x)
                picks.append(x)
                if len(picks) == n - 1:
                    break
    picks.append(int(target))
    return [picks[i] for i in rng.permutation(n).tolist()]


def _draw_range(args: tuple) -> list[list[int]]:
    histories, targets, n_items, n, seed, split, start = args
    return [
        draw_candidates(h, t, n_items, n, seed, split, start + k)
        for k, (h, t) in enumerate(zip(histories, targets))
    ]


def draw_split(dataset: Dataset, split: str, n: int, seed: int, workers: int = 1) -> list[list[int]]:
    """Candidate lists of every sample of ``split``; identical for any ``workers``."""
    data = dataset.split(split)
    if workers <= 1:
        return _draw_range((data.histories, data.targets, dataset.n_items, n, seed, split, 0))
    size = max(1, -(-len(data) // workers))
    jobs = [
        (data.histories[s : s + size], data.targets[s : s + size], dataset.n_items, n, seed, split, s)
        for s in range(0, len(data), size)
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [row for part in pool.map(_draw_range, jobs) for row in part]


def candidate_key(split: str, n: int, seed: int) -> str:
    return f"{split}-n{n}-seed{seed}"


def _write(path: Path, rows: list[list[int]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    tmp.replace(path)


def write_candidates(dataset: Dataset, split: str, n: int, seed: int, workers: int = 1) -> dict[str, Any]:
    """Draw and persist one candidate set; returns its manifest entry (with ``sha256``)."""
    if dataset.path is None:
        raise DataError("save the dataset before drawing persisted candidates")
    rows = draw_split(dataset, split, n, seed, workers)
    key = candidate_key(split, n, seed)
    fpath = dataset.path / CANDIDATE_DIR / f"{key}.jsonl"
    _write(fpath, rows)
    entry = {
        "file": f"{CANDIDATE_DIR}/{key}.jsonl",
        "split": split,
        "n": n,
        "seed": seed,
        "rows": len(rows),
        "sha256": sha256_file(fpath),
        "dataset_hash": dataset.content_hash,
    }
    manifest = read_manifest(dataset.path)
    manifest.setdefault("candidates", {})[key] = entry
    write_manifest(dataset.path, manifest)
    dataset.manifest = manifest
    return entry


def load_candidates(dataset: Dataset, split: str, n: int, seed: int) -> tuple[list[list[int]], str]:
    """The persisted candidate lists of (split, n, seed) and their sha256.

    Raises DataError when they were never drawn, or when the file no longer matches the hash
    recorded in the manifest or the dataset it was drawn from.
    """
    if dataset.path is None:
        raise DataError("dataset has no folder: save it first")
    key = candidate_key(split, n, seed)
    entry = read_manifest(dataset.path).get("candidates", {}).get(key)
    if entry is None:
        raise DataError(
            f"{dataset.path}: no candidate set {key}; draw it with "
            f"`llara data candidates {dataset.path} --split {split} --n {n} --seeds {seed}`"
        )
    fpath = dataset.path / entry["file"]
    if not fpath.is_file():
        raise DataError(f"{fpath}: candidate file listed in the manifest is missing")
    digest = sha256_file(fpath)
    if digest != entry["sha256"]:
        raise DataError(f"{fpath}: sha256 {digest[:12]} differs from the manifest's {entry['sha256'][:12]}")
    if entry.get("dataset_hash") != dataset.content_hash:
        raise DataError(f"{fpath}: drawn for another version of the dataset; draw it again")
    rows = [json.loads(line) for line in fpath.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(rows) != len(dataset.split(split)):
        raise DataError(f"{fpath}: {len(rows)} rows for {len(dataset.split(split))} samples")
    return rows, digest


def ensure_candidates(dataset: Dataset, split: str, n: int, seed: int, workers: int = 1) -> tuple[list[list[int]], str]:
    """Load the persisted candidate set, drawing and persisting it first if it does not exist."""
    key = candidate_key(split, n, seed)
    if key not in read_manifest(dataset.path).get("candidates", {}):
        write_candidates(dataset, split, n, seed, workers)
    return load_candidates(dataset, split, n, seed)
