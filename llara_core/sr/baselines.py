"""Non-learned baselines scored on the same candidate protocol as the sequential recommenders.

* ``random``: every item scores the same, so the exact expected metrics of a uniformly random
  ranking come out (HR@1 = 1/N) with no sampling noise.
* ``popularity``: an item's score is how often it is a target of the train split (each train
  interaction counted once; histories would count an interaction up to ``history_len`` times).
"""

from __future__ import annotations

import numpy as np

from llara_core.data.dataset import Dataset
from llara_core.errors import LlaraError
from llara_core.sr.evaluate import CatalogueScorer

BASELINES = ("random", "popularity")


def popularity_counts(dataset: Dataset) -> np.ndarray:
    """``(n_items,)`` float64 count of each item among the train split's targets."""
    targets = np.asarray(dataset.split("train").targets, dtype=np.int64)
    return np.bincount(targets, minlength=dataset.n_items).astype(np.float64)


def baseline_scorer(name: str, dataset: Dataset) -> CatalogueScorer:
    """The catalogue scorer of baseline ``name`` (one of :data:`BASELINES`) fitted on ``dataset``."""
    if name == "random":
        row = np.zeros(dataset.n_items)
    elif name == "popularity":
        row = popularity_counts(dataset)
    else:
        raise LlaraError(f"unknown baseline {name!r} (known: {', '.join(BASELINES)})")
    return lambda split: np.broadcast_to(row, (len(split), dataset.n_items))

