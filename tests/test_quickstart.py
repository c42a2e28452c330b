"""The quickstart end to end at toy size: every stage runs and writes its outputs, the table has
its rows and the breakdown by signal, the reading is printed, and the validation curve is logged."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
import yaml
from rich.console import Console

from llara_core.data.synthetic import synthetic_truth
from llara_core.quickstart import (
    LABELS,
    SASREC,
    QuickstartConfig,
    breakdown,
    reading,
    run_quickstart,
)

TOY = dict(
    n_items=60, n_train_users=40, n_val_users=12, n_test_users=12, sr_epochs=1, steps=4, batch_size=4, val_every=2,
    backbone_params={"hidden_size": 32, "num_layers": 1, "intermediate_size": 64, "vocab_size": 512},
    eval_seeds=[0],
)


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart") / "qs"
    buf = io.StringIO()
    t0 = time.perf_counter()
    summary = run_quickstart(out, QuickstartConfig(**TOY), Console(file=buf, width=200))
    return out, summary, buf.getvalue(), time.perf_counter() - t0


def test_quickstart_runs_end_to_end_at_toy_size(toy_run):
    out, summary, _, _ = toy_run  # its time is the benchmarks' business, not a unit test's
    methods = [r["method"] for r in summary["table"]]
    assert methods == ["popularity", SASREC, *LABELS.values()]
    for row in summary["table"]:
        assert 0.0 <= row["hr@1"] <= 1.0 and row["hr@1_ci"][0] <= row["hr@1"] <= row["hr@1_ci"][1]
    assert (out / "training.png").stat().st_size > 10_000
    results = json.loads((out / "results.json").read_text())
    assert set(results["llara"]) == {"text", "hybrid", "curriculum"}
    assert results["timings_s"]["total_cpu_s"] > 0
    assert not [p.name for p in out.rglob(".*.tmp-*")]  # every file written whole (temp, fsync, rename)
    # the variants differ only in their curriculum
    configs = {v: yaml.safe_load((out / "configs" / f"{v}.yaml").read_text()) for v in results["llara"]}
    for cfg in configs.values():
        del cfg["name"], cfg["curriculum"], cfg["training"]["out_dir"]
    assert configs["text"] == configs["hybrid"] == configs["curriculum"]
    realised = {v: json.loads((out / "runs" / v / "train_summary.json").read_text())["hybrid_fraction"] for v in configs}
    assert realised["text"] == 0.0 and realised["hybrid"] == 1.0


def test_breakdown_by_signal_matches_the_synthetic_truth(toy_run):
    _, summary, printed, _ = toy_run
    params = {k: TOY[k] for k in ("n_items", "n_train_users", "n_val_users", "n_test_users")}
    signal = synthetic_truth(seed=0, **params)["signal"]["test"]
    counts = {s: signal.count(s) for s in ("transition", "taste", "popularity")}
    assert summary["test_signal_counts"] == counts and counts["transition"] and counts["taste"]
    assert list(summary["by_signal"]) == [r["method"] for r in summary["table"]]
    for groups in summary["by_signal"].values():
        assert {s: g["n"] for s, g in groups.items()} == {s: n for s, n in counts.items() if n}
    # group means weighted by their sizes give the overall HR@1 of the table
    for row in summary["table"]:
        groups = summary["by_signal"][row["method"]]
        overall = sum(g["hr@1"] * g["n"] for g in groups.values()) / len(signal)
        assert overall == pytest.approx(row["hr@1"], abs=1e-6)
    assert "by the signal that produced the test target" in printed and "taste-only target" in printed


def test_reading_is_printed_for_the_key_pairs(toy_run):
    _, summary, printed, _ = toy_run
    lines = summary["reading"]["lines"]
    assert len(lines) == 7  # hybrid vs text, curriculum vs hybrid, curriculum vs text, each LLaRA row vs SASRec, the claim
    assert "Reading" in printed and all(line in printed for line in lines)
    pairs = {(c["a"], c["b"], c["subset"]) for c in summary["reading"]["comparisons"]}
    assert (LABELS["curriculum"], LABELS["hybrid"], "all") in pairs
    assert (LABELS["hybrid"], SASREC, "taste") in pairs and (LABELS["text"], SASREC, "transition") in pairs
    for c in summary["reading"]["comparisons"]:
        assert c["ci_low"] <= c["difference"] <= c["ci_high"]
        assert c["excludes_0"] == (c["ci_low"] > 0 or c["ci_high"] < 0)


def test_validation_curve_is_logged_for_every_variant(toy_run):
    out, summary, _, _ = toy_run
    for variant in LABELS:
        records = summary["validation"][variant]
        assert [r["step"] for r in records] == [2, 4]
        assert all(0.0 <= r["val_hr@1"] <= 1.0 for r in records)
        logged = [json.loads(line) for line in (out / "runs" / variant / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in logged if "val_hr@1" in r] == [2, 4]
    assert SASREC in summary["val_reference"]


def test_reading_words_follow_the_intervals():
    rng = np.random.default_rng(0)
    n = 200
    signal = ["transition"] * 120 + ["taste"] * 80
    base = (rng.random(n) < 0.3).astype(float)
    per_sample = {
        SASREC: np.r_[np.ones(120), np.zeros(80)],
        LABELS["text"]: np.r_[np.zeros(120), np.ones(80)],
        LABELS["hybrid"]: base,
        LABELS["curriculum"]: base.copy(),
    }
    read = reading(per_sample, signal)
    assert read["lines"][1].startswith(f"{LABELS['curriculum']} vs {LABELS['hybrid']}: no difference the intervals support")
    text_line = next(line for line in read["lines"] if line.startswith(f"{LABELS['text']} trails") or line.startswith(f"{LABELS['text']} vs"))
    assert "on transition targets -1.00" in text_line and "(worse)" in text_line and "on taste-only targets +1.00" in text_line
    table = breakdown(per_sample, signal)
    assert table[SASREC]["transition"]["hr@1"] == 1.0 and table[SASREC]["taste"]["hr@1"] == 0.0
    assert read["lines"][-1].startswith("complementary strengths shown: ") and LABELS["text"] in read["lines"][-1]
    # no LLaRA row gets a taste-only target right: the claim is not shown
    for label in LABELS.values():
        per_sample[label] = np.r_[per_sample[label][:120], np.zeros(80)]
    assert reading(per_sample, signal)["lines"][-1].startswith("complementary strengths not shown")
