"""Candidate-set evaluation of catalogue scorers and the random / popularity baselines."""

from __future__ import annotations

import numpy as np
import pytest

from llara_core.data.candidates import load_candidates
from llara_core.data.dataset import Dataset, Sample, Split
from llara_core.errors import LlaraError
from llara_core.evaluation.metrics import candidate_metrics, target_positions
from llara_core.sr.baselines import baseline_scorer, popularity_counts
from llara_core.sr.evaluate import METRICS, evaluate_scorer


@pytest.fixture
def dataset(tmp_path) -> Dataset:
    """40 items; train targets make item 0 the most popular, then 1, then 2."""
    train = [Sample((), 0)] * 6 + [Sample((5,), 1)] * 4 + [Sample((5, 6), 2)] * 2 + [Sample((7,), 9)]
    val = [Sample((i, i + 1), i + 2, user=i) for i in range(10, 20)]
    test = [Sample((i,), (i + 3) % 40, user=i) for i in range(12)]
    ds = Dataset("pop", "item", [f"t{i}" for i in range(40)],
                 {"train": Split.from_samples("train", train), "val": Split.from_samples("val", val),
                  "test": Split.from_samples("test", test)})
    ds.save(tmp_path / "pop")
    return ds


def oracle(dataset: Dataset):
    def score(split: Split) -> np.ndarray:
        out = np.zeros((len(split), dataset.n_items))
        out[np.arange(len(split)), split.targets] = 1.0
        return out
    return score


def test_oracle_scores_perfectly_on_every_seed(dataset):
    res = evaluate_scorer(oracle(dataset), dataset, "test", 10, seeds=[0, 1, 2], n_boot=100)
    assert res["seeds"] == [0, 1, 2] and res["samples"] == 12
    for metric in METRICS:
        assert res["summary"][metric]["mean"] == 1.0
        assert res["per_seed"]["1"][metric]["value"] == 1.0
    assert len(res["per_sample"]["2"]["hr@1"]) == 12


def test_random_baseline_is_the_exact_expectation(dataset):
    res = evaluate_scorer(baseline_scorer("random", dataset), dataset, "test", 10, seeds=[0, 1])
    s = res["summary"]
    assert s["hr@1"]["mean"] == pytest.approx(0.1) and s["hr@1"]["std"] == 0.0
    assert s["hr@5"]["mean"] == pytest.approx(0.5) and s["hr@10"]["mean"] == pytest.approx(1.0)
    assert s["mrr"]["mean"] == pytest.approx(np.mean(1 / np.arange(1, 11)))
    assert (s["hr@1"]["ci_low"], s["hr@1"]["ci_high"]) == pytest.approx((0.1, 0.1))


def test_popularity_ranks_by_train_target_counts(dataset):
    counts = popularity_counts(dataset)
    assert counts[:3].tolist() == [6, 4, 2] and counts[9] == 1 and counts.sum() == 13
    scores = baseline_scorer("popularity", dataset)(dataset.split("test"))
    candidates = np.array([[3, 0, 1], [1, 2, 9], [4, 5, 6]])
    per = candidate_metrics(scores[:3], candidates, [1, 9, 6])
    # target 1 is behind 0; 9 is behind 1 and 2; 4, 5, 6 tie at zero -> expected HR@1 = 1/3
    assert per["hr@1"].tolist() == pytest.approx([0.0, 0.0, 1 / 3])
    assert per["mrr"].tolist() == pytest.approx([0.5, 1 / 3, (1 + 1 / 2 + 1 / 3) / 3])
    with pytest.raises(LlaraError, match="unknown baseline 'oracle'"):
        baseline_scorer("oracle", dataset)


def test_every_method_reads_the_same_persisted_candidates(dataset):
    first = evaluate_scorer(baseline_scorer("popularity", dataset), dataset, "val", 20, seeds=[4])
    rows, digest = load_candidates(dataset, "val", 20, 4)
    assert first["candidate_sha256"] == {"4": digest}
    second = evaluate_scorer(oracle(dataset), Dataset.load(dataset.path), "val", 20, seeds=[4])
    assert second["candidate_sha256"] == {"4": digest}
    assert all(len(r) == 20 and t in r for r, t in zip(rows, dataset.split("val").targets))


def test_target_positions_refuses_rows_without_their_target():
    assert target_positions(np.array([[4, 2, 7], [1, 3, 0]]), [7, 1]).tolist() == [2, 0]
    with pytest.raises(ValueError, match="row 1: target 5"):
        target_positions(np.array([[4, 2, 7], [1, 3, 0]]), [7, 5])
