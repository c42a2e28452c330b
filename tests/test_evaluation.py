"""Evaluation engine: batch-size invariant generation, title matching, metrics on hand-computed cases, bootstrap intervals, the evaluate CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llara_core.data import Dataset
from llara_core.evaluation.engine import evaluate
from llara_core.evaluation.matching import match_answer
from llara_core.evaluation.metrics import metrics_from_scores, summarise
from llara_core.evaluation.stats import bootstrap_ci, paired_difference
from llara_core.interfaces import PromptMode, PromptSample
from llara_core.model.compose import build_llara
from tests.llara_world import with_active_adapters, world_config

SAMPLES = [
    PromptSample((1, 2, 3), (4, 5, 6, 7, 8, 9), 6),
    PromptSample((10,), (11, 12, 13, 14, 15, 16), 11),
    PromptSample((20, 21, 22, 23, 24, 25, 26, 27, 28, 29), (30, 31, 32, 33, 34, 35), 35),
    PromptSample((40, 41), (42, 43, 44, 45, 46, 47), 44),
]


@pytest.fixture(scope="module", params=["tiny-random-llama", "tiny-random-gpt2"])
def model(request, llara_world):
    return with_active_adapters(build_llara(world_config(llara_world, backbone=request.param))).eval()


def test_generation_does_not_depend_on_batch_size(model):
    samples = SAMPLES * 2
    prompts = model.build_prompts(samples, PromptMode.HYBRID)
    one = model.generate(prompts, max_new_tokens=12, batch_size=1)
    eight = model.generate(prompts, max_new_tokens=12, batch_size=8)
    assert one == eight
    assert all("\n" not in a for a in one)


@pytest.mark.parametrize(
    ("answer", "titles", "choice", "reference_valid", "ambiguous"),
    [
        ("Aliens", ["Alien", "Aliens", "Heat"], 1, False, True),  # substring title: reference rule says invalid
        ("Alien", ["Alien", "Aliens", "Heat"], 0, True, False),
        ("ALIEN", ["Alien", "Heat"], 0, True, False),  # case
        ("Monsters, Inc", ["Monsters, Inc.", "Heat"], 0, False, False),  # punctuation
        ("Heat. It is a great film", ["Alien", "Heat"], 1, True, False),  # trailing text
        ("Heat or Alien", ["Alien", "Heat"], None, False, False),  # two titles
        ("I do not know", ["Alien", "Heat"], None, False, False),  # none
        ("Theatre", ["Heat", "Alien"], None, True, False),  # reference matches inside a word
        ("", ["Heat"], None, False, False),
    ],
)
def test_title_matching(answer, titles, choice, reference_valid, ambiguous):
    m = match_answer(answer, titles)
    assert m.choice == choice
    assert m.reference_valid == reference_valid
    assert m.ambiguous == ambiguous


def test_metrics_on_hand_computed_cases():
    scores = np.array([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.4, 0.1], [0.5, 0.5, 0.5, 0.5]])
    per = metrics_from_scores(scores, [0, 2, 3])
    # sample 0: rank 0; sample 1: rank 1; sample 2: uniform over ranks 0..3 (all tied)
    assert per["hr@1"].tolist() == pytest.approx([1.0, 0.0, 0.25])
    assert per["mrr"].tolist() == pytest.approx([1.0, 0.5, (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4])
    ndcg = [1 / np.log2(r + 2) for r in range(4)]
    assert per["ndcg@5"].tolist() == pytest.approx([1.0, ndcg[1], np.mean(ndcg)])
    assert summarise(per)["hr@5"] == pytest.approx(1.0)


def test_bootstrap_interval_contains_estimate_and_shrinks():
    rng = np.random.default_rng(0)
    small = rng.random(50) < 0.4
    large = rng.random(5000) < 0.4
    lo_s, hi_s = bootstrap_ci(small)
    lo_l, hi_l = bootstrap_ci(large)
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 5
    d = paired_difference(large.astype(float), np.zeros(5000))
    assert d["ci_low"] > 0.35 and d["p_not_greater"] == 0.0


def test_evaluate_engine_reports_both_families_over_seeds(llara_world):
    m = build_llara(world_config(llara_world)).eval()
    ds = Dataset.load(llara_world["data"])
    res = evaluate(m, ds, "test", seeds=[0, 1], mode="both", n_candidates=6, batch_size=4, max_new_tokens=8, shuffles=2)
    n = len(ds.split("test"))
    assert res["samples"] == n and len(res["rows"]) == n * 2 * 2
    assert set(res["scoring"]["summary"]) >= {"hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr"}
    assert set(res["generation"]["summary"]) >= {"valid_ratio", "hr@1", "hr@1_valid", "reference_valid_ratio"}
    s = res["scoring"]["summary"]["hr@1"]
    assert s["ci_low"] <= s["mean"] <= s["ci_high"] and s["seeds"] == 4
    assert sum(res["scoring"]["position_bias"]["count"]) == n * 4
    assert res["candidate_sha256"]["0"] != res["candidate_sha256"]["1"]


def test_evaluate_cli_writes_result_manifest_and_rows(llara_world, tmp_path, llara_cli):
    from llara_core.training.run import train

    cfg = world_config(llara_world, max_steps=2)
    train(cfg, tmp_path / "run")
    out = tmp_path / "res.json"
    proc = llara_cli("evaluate", str(tmp_path / "run"), "--mode", "both", "--seeds", "0,1", "--max-new-tokens", "6", "--batch-size", "4", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "ValidRatio" in proc.stdout and "HR@1" in proc.stdout
    res = json.loads(out.read_text())
    man = res["manifest"]
    assert man["dataset"]["content_hash"] == Dataset.load(llara_world["data"]).content_hash
    assert man["backbone"]["model"] == "tiny-random-llama" and man["seeds"] == [0, 1]
    assert man["components"]["projector"]["distribution"] == "llara"
    assert set(man["candidate_sha256"]) == {"0", "1"} and man["wall_s"] > 0
    assert out.with_suffix(".csv").read_text().count("\n") == 1 + 2 * len(Dataset.load(llara_world["data"]).split("test"))
    cmp = llara_cli("compare", str(out), str(out))
    assert cmp.returncode == 0 and "+0.0000" in cmp.stdout
