"""benchmarks/results/make_tables.py: the results tables recomputed from per-sample files — export
from run folders, seed means and ranges, paired differences, re-scorings on the shared seeds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "make_tables.py"


@pytest.fixture(scope="module")
def make_tables():
    spec = importlib.util.spec_from_file_location("make_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def result(seeds: list[int], hits: list[list[int]]) -> dict:
    """An LLM evaluation file: per seed, per sample hr@1 (the other metrics follow it)."""
    per_seed = [{m: [float(h) for h in row] for m in ("hr@1", "hr@5", "ndcg@5", "mrr")} for row in hits]
    return {"seeds": seeds, "per_sample": {"scoring": per_seed, "generation": []}}


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def test_export_table_pairs_and_rescorings(make_tables, tmp_path):
    runs, results = tmp_path / "runs", tmp_path / "results"
    write(runs / "a" / "eval" / "test-score.json", result([0, 1], [[1, 1, 0, 0], [1, 0, 0, 0]]))
    write(runs / "a" / "eval" / "test-score-swap.json", result([0], [[0, 0, 0, 0]]))
    write(runs / "a" / "eval" / "test-generate.json", {"seeds": [0], "per_sample": {"scoring": [], "generation": [{"valid": [1, 1, 1, 0], "hr@1": [1, 0, 0, 0]}]}})
    write(runs / "a" / "train_summary.json", {"global_step": 7})
    write(runs / "a" / "last" / "model.safetensors", {})  # a checkpoint: never exported
    write(runs / "b" / "eval.json", result([0, 1], [[0, 1, 0, 0], [0, 1, 0, 0]]))
    write(runs / "c" / "eval.json", result([1, 2], [[1, 1, 1, 1], [0, 0, 0, 0]]))
    make_tables.main([str(results), "--export", str(runs), "--pairs", "a:b,a:c"])

    assert sorted(p.name for p in (results / "a").iterdir()) == ["eval-generate.json", "eval-swap.json", "eval.json", "train_summary.json"]
    text = (results / "table.md").read_text()
    # row a: seed means 0.5 and 0.25 -> mean 0.375, range 0.250-0.500; 7 steps of batch 8
    # generation columns from the separate generation file: ValidRatio 0.75, HR@1 0.25
    assert "| 0.750 [" in text and "| 0.250 [0.000, 0.750] | 7 (56) |" in text
    assert "| a | **0.375** [" in text and "(0.250–0.500)" in text and "| 7 (56) |" in text
    # a - b per sample (seed-averaged): [1, 0.5, 0, 0] - [0, 1, 0, 0] -> mean +0.125
    assert "| a − b | 0,1 | +0.125 [" in text
    # a - c on their one shared seed (1): [1, 0, 0, 0] - [1, 1, 1, 1] -> -0.750
    assert "| a − c | 1 | -0.750 [" in text
    # the swap re-scoring is paired with row a's own seed 0 only: 0.0 against 0.5
    swap = next(line for line in text.splitlines() if "--swap-behaviour" in line)
    assert "seeds 0 |" in swap and "| 0.000 [0.000, 0.000] | 0.500 | -0.500 [" in swap


def test_summary_matches_a_direct_computation(make_tables):
    rng = np.random.default_rng(3)
    seeds = [{"hr@1": rng.integers(0, 2, 50).astype(float)} for _ in range(3)]
    s = make_tables.summary(seeds, "hr@1")
    assert s["mean"] == pytest.approx(np.mean([x["hr@1"].mean() for x in seeds]))
    assert s["min"] == min(x["hr@1"].mean() for x in seeds) and s["lo"] <= s["mean"] <= s["hi"]


def test_more_seeds_are_pooled_and_a_mismatch_is_refused(make_tables, tmp_path):
    manifest = {"checkpoint": "best", "config": {"seed": 0}}
    first = {**result([0, 1], [[1, 0, 0, 0], [1, 1, 0, 0]]), "split": "test", "samples": 4, "manifest": manifest}
    more = {**result([3], [[1, 1, 1, 1]]), "split": "test", "samples": 4, "manifest": manifest}
    write(tmp_path / "runs" / "a" / "eval.json", first)
    write(tmp_path / "runs" / "a" / "eval" / "test-score-more-seeds.json", more)
    results = tmp_path / "results"
    make_tables.main([str(results), "--export", str(tmp_path / "runs")])
    row = make_tables.row_stats(results / "a")
    # seed means 0.25, 0.5, 1.0 -> mean 0.583, range 0.25-1.0
    assert row["seeds"] == [0, 1, 3]
    assert row["scoring"]["hr@1"]["mean"] == pytest.approx(7 / 12) and row["scoring"]["hr@1"]["max"] == 1.0
    # another checkpoint's seeds are not pooled, and neither is a seed scored twice
    write(results / "a" / "eval-more-seeds.json", {**more, "manifest": {**manifest, "checkpoint": "last"}})
    with pytest.raises(SystemExit, match="eval-more-seeds.json: cannot pool with eval.json: differs in manifest.checkpoint"):
        make_tables.row_stats(results / "a")
    write(results / "a" / "eval-more-seeds.json", {**more, "seeds": [1]})
    with pytest.raises(SystemExit, match=r"seeds \[1\] in both"):
        make_tables.row_stats(results / "a")
