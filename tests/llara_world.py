"""A tiny but complete LLaRA world for model/trainer/evaluation tests: a small synthetic
dataset, an (untrained, seeded) SASRec checkpoint and a config for the tiny random backbones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from llara_core.config import validate_config
from llara_core.data.synthetic import make_synthetic
from llara_core.slots import ITEM_ENCODERS
from llara_core.sr.checkpoint import save_item_encoder


def make_world(root: Path) -> dict[str, Path]:
    data = root / "data"
    ds = make_synthetic(seed=1, n_items=60, n_train_users=40, n_val_users=12, n_test_users=12)
    ds.save(data)
    torch.manual_seed(0)
    encoder = ITEM_ENCODERS.build("sasrec", {"dim": 16}, n_items=ds.n_items)
    save_item_encoder(encoder, "sasrec", root / "sasrec", data_hash=ds.content_hash, dataset=ds.name)
    return {"data": data, "sasrec": root / "sasrec"}


def world_config(world: dict[str, Path], backbone: str = "tiny-random-llama", **training: Any):
    raw = {
        "data": {"path": str(world["data"]), "n_candidates": 6},
        "item_encoder": {"checkpoint": str(world["sasrec"])},
        "projector": "mlp",
        "prompt_builder": "llara",
        "curriculum": "linear",
        "backbone": {"name": backbone, "params": {"hidden_size": 32, "num_layers": 1, "intermediate_size": 64}, "tuning": "lora", "lora": {"dropout": 0.1}},
        "training": {"max_steps": 4, "batch_size": 4, "lr": 1e-2, "seed": 0, "log_every": 1, **training},
        "evaluation": {"batch_size": 4},
    }
    return validate_config(raw)
