"""Agreement between two versions of the same split (e.g. a rebuilt split and the reference).

Rows are compared position by position (both preparers emit users in the same order), and
also as multisets of ``(history, target)`` so that a different row order is not counted as a
difference.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from llara_core.data.dataset import Dataset, Split


def split_agreement(a: Split, b: Split) -> dict[str, Any]:
    """Counts over the first ``min(len(a), len(b))`` rows: ``same_target``, ``same_history``
    (same items, same order), ``same_history_set`` (same items in any order),
    ``same_sample`` (history and target), plus ``multiset_matches``: samples of ``a`` that
    also occur in ``b`` irrespective of position."""
    n = min(len(a), len(b))
    same_target = sum(a.targets[i] == b.targets[i] for i in range(n))
    same_history = sum(a.histories[i] == b.histories[i] for i in range(n))
    same_set = sum(sorted(a.histories[i]) == sorted(b.histories[i]) for i in range(n))
    same_sample = sum(
        a.targets[i] == b.targets[i] and a.histories[i] == b.histories[i] for i in range(n)
    )
    ca = Counter(zip(a.histories, a.targets))
    cb = Counter(zip(b.histories, b.targets))
    return {
        "rows": [len(a), len(b)],
        "compared": n,
        "same_target": same_target,
        "same_history": same_history,
        "same_history_set": same_set,
        "same_sample": same_sample,
        "multiset_matches": sum((ca & cb).values()),
    }


def dataset_agreement(a: Dataset, b: Dataset) -> dict[str, Any]:
    """:func:`split_agreement` of every split the two datasets share, plus whether their
    catalogues have the same titles."""
    shared = [name for name in a.splits if name in b.splits]
    return {
        "same_titles": a.titles == b.titles,
        "splits": {name: split_agreement(a.splits[name], b.splits[name]) for name in shared},
    }
