"""The quickstart end to end at toy size: every stage runs and writes its outputs."""

from __future__ import annotations

import json

import yaml

from llara_core.quickstart import LABELS, QuickstartConfig, run_quickstart


def test_quickstart_runs_end_to_end_at_toy_size(tmp_path):
    q = QuickstartConfig(
        n_items=60, n_train_users=40, n_test_users=12, sr_epochs=1, steps=3, batch_size=4,
        backbone_params={"hidden_size": 32, "num_layers": 1, "intermediate_size": 64, "vocab_size": 512},
        eval_seeds=[0],
    )
    summary = run_quickstart(tmp_path / "qs", q)
    methods = [r["method"] for r in summary["table"]]
    assert methods == ["popularity", "SASRec (alone)", *LABELS.values()]
    for row in summary["table"]:
        assert 0.0 <= row["hr@1"] <= 1.0 and row["hr@1_ci"][0] <= row["hr@1"] <= row["hr@1_ci"][1]
    assert (tmp_path / "qs" / "training.png").stat().st_size > 10_000
    results = json.loads((tmp_path / "qs" / "results.json").read_text())
    assert set(results["llara"]) == {"text", "hybrid", "curriculum"}
    # the variants differ only in their curriculum
    configs = {v: yaml.safe_load((tmp_path / "qs" / "configs" / f"{v}.yaml").read_text()) for v in results["llara"]}
    for cfg in configs.values():
        del cfg["name"], cfg["curriculum"], cfg["training"]["out_dir"]
    assert configs["text"] == configs["hybrid"] == configs["curriculum"]
    realised = {v: json.loads((tmp_path / "qs" / "runs" / v / "train_summary.json").read_text())["hybrid_fraction"] for v in configs}
    assert realised["text"] == 0.0 and realised["hybrid"] == 1.0
