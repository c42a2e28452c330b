"""Datasets in llara's own format (JSONL + JSON manifest), their importers and preparers, the
synthetic catalogue and the persisted candidate sets."""

from llara_core.data.candidates import draw_candidates, ensure_candidates, load_candidates
from llara_core.data.csv_prepare import CsvOptions, prepare_csv
from llara_core.data.dataset import DOMAINS, SPLITS, Dataset, Sample, Split
from llara_core.data.llara_import import import_llara
from llara_core.data.movielens import prepare_movielens
from llara_core.data.stats import dataset_stats
from llara_core.data.synthetic import make_synthetic

__all__ = [
    "DOMAINS",
    "SPLITS",
    "CsvOptions",
    "Dataset",
    "Sample",
    "Split",
    "dataset_stats",
    "draw_candidates",
    "ensure_candidates",
    "import_llara",
    "load_candidates",
    "make_synthetic",
    "prepare_csv",
    "prepare_movielens",
]
