"""Speed of one SR training epoch at MovieLens scale (68,388 rows, 1,682 items) on the CPU.

`llara sr train` must finish within 10 minutes per model on 2 CPU cores; the defaults stop
after a few dozen epochs at most, so an epoch (train + validation) must stay well below 20 s
(the target, reported, not asserted). Measured per encoder (SASRec, GRU4Rec, Caser): one epoch
of ``train_item_encoder`` at the suite's torch threads, by CPU time (wall time recorded too),
and the training samples/s it implies (train rows with at least ``min_history`` items / epoch
CPU-s). One epoch each: there is no variant to interleave with. Asserted: the epoch ran.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchmarks.machine import bench_threads
from llara_core.data.dataset import Dataset, Sample, Split
from llara_core.sr.trainer import SRTrainConfig, train_item_encoder


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
def test_one_epoch_at_movielens_scale(benchmark, record, movielens_sized, tmp_path, model):
    cfg = SRTrainConfig(model=model, epochs=1, progress=False, threads=bench_threads())
    got: dict = {}

    def epoch() -> None:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        got["result"] = train_item_encoder(movielens_sized, cfg, tmp_path / model)
        got["cpu"], got["wall"] = time.process_time() - cpu0, time.perf_counter() - wall0

    benchmark.pedantic(epoch, rounds=1, iterations=1)
    assert got["result"].epochs_run == 1
    min_history = got["result"].config.min_history
    rows = sum(1 for h in movielens_sized.split("train").histories if len(h) >= min_history)
    record(
        f"sr_epoch.{model}",
        group="SR training",
        what=f"one {model} epoch (train + validation) at MovieLens scale",
        sizes={"train_rows": rows, "items": movielens_sized.n_items, "batch": got["result"].config.batch_size},
        medians={"epoch": got["cpu"]},
        value=("epoch", got["cpu"], "CPU-s"),
        extra={"samples_per_s": rows / got["cpu"], "epoch_wall_s": got["wall"]},
        show=["samples_per_s"],
    )
