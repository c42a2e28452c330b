"""Descriptive statistics of a dataset: per split rows, users, items and history lengths."""

from __future__ import annotations

from collections import Counter
from typing import Any

from llara_core.data.dataset import Dataset, Split


def split_stats(split: Split) -> dict[str, Any]:
    """``rows``, ``users`` (distinct non-null users, None when the split carries none),
    ``items`` (distinct ids in histories and targets), ``targets`` (distinct targets),
    ``history_len`` (min / mean / max) and ``history_len_counts`` ({length: rows})."""
    lengths = [len(h) for h in split.histories]
    users = {u for u in split.users if u is not None}
    items = set(split.targets)
    for h in split.histories:
        items.update(h)
    return {
        "rows": len(split),
        "users": len(users) if users else None,
        "items": len(items),
        "targets": len(set(split.targets)),
        "history_len": {
            "min": min(lengths, default=0),
            "mean": round(sum(lengths) / len(lengths), 4) if lengths else 0.0,
            "max": max(lengths, default=0),
        },
        "history_len_counts": split.history_length_counts(),
    }


def dataset_stats(dataset: Dataset) -> dict[str, Any]:
    """Catalogue facts plus :func:`split_stats` of every split."""
    duplicates = sum(c - 1 for c in Counter(t.casefold() for t in dataset.titles).values() if c > 1)
    return {
        "name": dataset.name,
        "domain": dataset.domain,
        "n_items": dataset.n_items,
        "duplicate_titles": duplicates,
        "content_hash": dataset.content_hash,
        "splits": {name: split_stats(split) for name, split in dataset.splits.items()},
    }
