"""Ranking metrics over candidate sets.

Every method (sequential recommender, baseline, LLM scorer) produces one score per candidate;
the metrics below turn scores into per-sample values, so intervals and paired comparisons work
on the same arrays. Ties are broken uniformly at random *in expectation* (exactly, without
drawing), so a constant scorer gets HR@1 = 1/N rather than 0 or 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llara_core.errors import DataError

DEFAULT_KS = (1, 5, 10)
NDCG_KS = (5, 10)


def target_ranks(scores: np.ndarray, target_pos: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(greater, ties): per sample, how many candidates score strictly higher than the target
    and how many other candidates score equal to it. ``scores`` is ``(B, N)``."""
    scores = np.asarray(scores, dtype=np.float64)
    pos = np.asarray(target_pos, dtype=np.int64)
    t = scores[np.arange(len(pos)), pos][:, None]
    greater = (scores > t).sum(1)
    ties = (scores == t).sum(1) - 1
    return greater, ties


def _expected(greater: np.ndarray, ties: np.ndarray, value) -> np.ndarray:
    """E[value(rank)] for rank uniform on greater .. greater + ties (0-based)."""
    out = np.zeros(len(greater), dtype=np.float64)
    for i, (g, e) in enumerate(zip(greater.tolist(), ties.tolist())):
        r = np.arange(g, g + e + 1)
        out[i] = value(r).mean()
    return out


def per_sample_metrics(
    greater: np.ndarray, ties: np.ndarray, ks: Sequence[int] = DEFAULT_KS, ndcg_ks: Sequence[int] = NDCG_KS
) -> dict[str, np.ndarray]:
    """Per-sample HR@k, NDCG@k and reciprocal rank (each an array of length B)."""
    greater = np.asarray(greater)
    ties = np.asarray(ties)
    out: dict[str, np.ndarray] = {}
    for k in ks:
        out[f"hr@{k}"] = _expected(greater, ties, lambda r, k=k: (r < k).astype(float))
    for k in ndcg_ks:
        out[f"ndcg@{k}"] = _expected(greater, ties, lambda r, k=k: np.where(r < k, 1.0 / np.log2(r + 2.0), 0.0))
    out["mrr"] = _expected(greater, ties, lambda r: 1.0 / (r + 1.0))
    return out


def metrics_from_scores(scores: np.ndarray, target_pos: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-sample metrics of a ``(B, N)`` score matrix with the target at ``target_pos``."""
    return per_sample_metrics(*target_ranks(scores, target_pos))


def target_positions(candidates: np.ndarray, targets: Sequence[int]) -> np.ndarray:
    """Index of each sample's target in its candidate row (``(B, N)`` ids, ``(B,)`` targets).

    Raises DataError naming the first row whose candidates do not hold its target exactly once.
    """
    candidates = np.asarray(candidates, dtype=np.int64)
    targets = np.asarray(targets, dtype=np.int64)
    hits = candidates == targets[:, None]
    bad = np.flatnonzero(hits.sum(1) != 1)
    if len(bad):
        row = int(bad[0])
        raise DataError(f"row {row}: target {int(targets[row])} is not exactly once among its candidates")
    return hits.argmax(1)


def candidate_metrics(catalogue_scores: np.ndarray, candidates: np.ndarray, targets: Sequence[int]) -> dict[str, np.ndarray]:
    """Per-sample metrics of a scorer that scores the whole catalogue: ``(B, n_items)`` scores
    restricted to each row's ``(B, N)`` candidate ids."""
    candidates = np.asarray(candidates, dtype=np.int64)
    scores = np.take_along_axis(np.asarray(catalogue_scores), candidates, axis=1)
    return metrics_from_scores(scores, target_positions(candidates, targets))


def summarise(per_sample: dict[str, np.ndarray]) -> dict[str, float]:
    return {k: float(np.mean(v)) if len(v) else float("nan") for k, v in per_sample.items()}
