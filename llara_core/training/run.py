"""Run a training job end to end: run folder, config files, Fabric, model, trainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from llara_core.config import ExperimentConfig
from llara_core.data import Dataset
from llara_core.model.compose import build_llara, read_run_config, write_run_config
from llara_core.model.llara import LLaRA
from llara_core.training.trainer import LAST, Trainer, make_fabric


def train(cfg: ExperimentConfig, run_dir: Path | None = None, console: Console | None = None, model: LLaRA | None = None, dataset: Dataset | None = None) -> dict[str, Any]:
    """Train a new run in ``run_dir`` (default ``cfg.training.out_dir``); returns the summary."""
    run_dir = Path(run_dir or cfg.training.out_dir)
    write_run_config(cfg, run_dir)
    return _fit(cfg, run_dir, False, console, model, dataset)


def resume(run_dir: Path, console: Console | None = None) -> dict[str, Any]:
    """Continue the run in ``run_dir`` from its ``last`` checkpoint."""
    cfg = read_run_config(run_dir)
    return _fit(cfg, Path(run_dir), True, console)


def _fit(cfg, run_dir, resume_run, console, model=None, dataset=None):
    fabric = make_fabric(cfg)
    fabric.launch()
    dataset = dataset if dataset is not None else Dataset.load(cfg.data.path)
    model = model if model is not None else build_llara(cfg, dataset)
    trainer = Trainer(model, dataset, cfg, run_dir, fabric, console)
    if resume_run:
        if not (run_dir / LAST).is_dir():
            from llara_core.errors import LlaraError

            raise LlaraError(f"{run_dir}: no '{LAST}' checkpoint to resume from")
        trainer.resume()
    return trainer.fit()
