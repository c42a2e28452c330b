"""Datasets in llara's own format (JSONL + JSON manifest) and the persisted candidate sets."""

from llara_core.data.candidates import draw_candidates, ensure_candidates, load_candidates
from llara_core.data.dataset import DOMAINS, SPLITS, Dataset, Sample, Split

__all__ = [
    "DOMAINS",
    "SPLITS",
    "Dataset",
    "Sample",
    "Split",
    "draw_candidates",
    "ensure_candidates",
    "load_candidates",
]
