"""Speed of one SR training epoch at MovieLens scale (68,388 rows, 1,682 items) on the CPU.

`llara sr train` must finish within 10 minutes per model on 2 CPU cores; the defaults stop
after a few dozen epochs at most, so an epoch (train + validation) must stay well below 20 s.
Run with ``pytest benchmarks/test_sr_train_speed.py --benchmark-enable``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from llara_core.data.dataset import Dataset, Sample, Split
from llara_core.sr.trainer import SRTrainConfig, train_item_encoder

EPOCH_BUDGET_S = 20.0


@pytest.fixture(scope="module")
def movielens_sized(tmp_path_factory) -> Dataset:
    rng = np.random.default_rng(0)
    n_items = 1682

    def rows(n: int) -> list[Sample]:
        out = []
        for _ in range(n):
            items = rng.choice(n_items, size=11, replace=False).tolist()
            length = int(rng.integers(0, 11))
            out.append(Sample(tuple(items[:length]), items[10]))
        return out

    ds = Dataset("movielens-sized", "movie", [f"m{i}" for i in range(n_items)],
                 {"train": Split.from_samples("train", rows(68_388)),
                  "val": Split.from_samples("val", rows(94)),
                  "test": Split.from_samples("test", rows(95))})
    ds.save(tmp_path_factory.mktemp("bench") / "data")
    return ds


@pytest.mark.parametrize("model", ["sasrec", "gru4rec", "caser"])
def test_one_epoch_at_movielens_scale(benchmark, movielens_sized, tmp_path, model):
    cfg = SRTrainConfig(model=model, epochs=1, progress=False)
    seconds: list[float] = []

    def epoch() -> None:
        start = time.perf_counter()
        train_item_encoder(movielens_sized, cfg, tmp_path / model)
        seconds.append(time.perf_counter() - start)

    benchmark.pedantic(epoch, rounds=1, iterations=1)
    assert min(seconds) < EPOCH_BUDGET_S, f"{model}: one epoch took {min(seconds):.1f} s"
