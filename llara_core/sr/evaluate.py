"""Evaluate catalogue scorers (item encoders, baselines) on the persisted candidate sets.

A *catalogue scorer* maps a split to a ``(samples, n_items)`` array of next-item scores. Each
sample is then ranked among its persisted candidates (``ensure_candidates``: the same sets every
method reads), giving per-sample HR@1/5/10, NDCG@5/10 and MRR per candidate seed, a 95%
bootstrap interval per seed, and the mean, spread and interval over seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from llara_core.data.candidates import ensure_candidates
from llara_core.data.dataset import Dataset, Split
from llara_core.errors import UsageError
from llara_core.evaluation.metrics import candidate_metrics
from llara_core.evaluation.stats import over_seeds, report
from llara_core.interfaces import ItemEncoder

CatalogueScorer = Callable[[Split], np.ndarray]

#: metric names in display order
METRICS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr")


@torch.no_grad()
def encoder_scores(encoder: ItemEncoder, split: Split, batch_size: int = 1024) -> np.ndarray:
    """``(len(split), n_items)`` float32 logits of ``encoder`` (put in eval mode, then restored)."""
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    history, lengths = split.padded(encoder.history_len, encoder.pad_id)
    out = []
    try:
        for start in range(0, len(split), batch_size):
            h = history[start : start + batch_size].to(device)
            n = lengths[start : start + batch_size].to(device)
            out.append(encoder.score(h, n).float().cpu().numpy())
    finally:
        encoder.train(was_training)
    return np.concatenate(out) if out else np.zeros((0, encoder.n_items), dtype=np.float32)


def encoder_scorer(encoder: ItemEncoder, batch_size: int = 1024) -> CatalogueScorer:
    return lambda split: encoder_scores(encoder, split, batch_size)


def per_seed_metrics(
    scores: np.ndarray, dataset: Dataset, split: str, n_candidates: int, seed: int
) -> tuple[dict[str, np.ndarray], str]:
    """Per-sample metrics of catalogue ``scores`` on candidate set (split, n, seed) and its sha256."""
    candidates, digest = ensure_candidates(dataset, split, n_candidates, seed)
    return candidate_metrics(scores, np.asarray(candidates), dataset.split(split).targets), digest


def evaluate_scorer(
    scorer: CatalogueScorer,
    dataset: Dataset,
    split: str = "test",
    n_candidates: int = 20,
    seeds: Sequence[int] = (0,),
    n_boot: int = 2000,
) -> dict[str, Any]:
    """Metrics of ``scorer`` on ``split`` over candidate ``seeds``.

    Returns ``{"split", "n_candidates", "seeds", "samples", "candidate_sha256": {seed: hash},
    "summary": {metric: {mean, std, min, max, ci_low, ci_high, seeds, n}}, "per_seed": {seed:
    {metric: {value, ci_low, ci_high, n}}}, "per_sample": {seed: {metric: [...]}}}``. The
    per-sample values allow paired comparisons with any other method on the same candidates.
    """
    if not seeds:
        raise UsageError("give at least one candidate seed")
    scores = scorer(dataset.split(split))
    per_seed, digests = [], {}
    for seed in seeds:
        values, digests[str(seed)] = per_seed_metrics(scores, dataset, split, n_candidates, seed)
        per_seed.append(values)
    return {
        "split": split,
        "n_candidates": n_candidates,
        "seeds": [int(s) for s in seeds],
        "samples": int(len(dataset.split(split))),
        "candidate_sha256": digests,
        "summary": over_seeds(per_seed, n_boot=n_boot),
        "per_seed": {str(s): report(v, n_boot=n_boot) for s, v in zip(seeds, per_seed)},
        "per_sample": {str(s): {k: v.round(6).tolist() for k, v in m.items()} for s, m in zip(seeds, per_seed)},
    }
