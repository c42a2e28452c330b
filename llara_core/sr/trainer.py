"""Train an item encoder as a sequential recommender, on the shared training loop
(:mod:`llara_core.training.loop`; Lightning Fabric, CPU or GPU).

Every train sample is one step of next-item prediction: cross-entropy of the encoder's logits
over the whole catalogue against the sample's target, optimised with Adam. After each epoch the
model ranks the persisted validation candidates (``val_candidates`` items per sample, for each
seed of ``val_seeds``); the best epoch by the ``monitor`` metric (default MRR) averaged over those
seeds is kept, and training stops after ``patience`` epochs without improvement. Both choices fight
noise: with LLaRA's ~100 validation users, HR@1 on one draw moves by several points between epochs
from the draw alone, and HR@1 picks epochs one user at a time where MRR uses the whole ranking.
The learning rate is constant or follows a cosine decay to 0 over ``epochs`` (``schedule``). The
output folder receives the checkpoint (``model.safetensors`` + ``config.json``), ``metrics.jsonl``
(one JSON object per epoch), and the loop's ``best/`` and ``last/`` checkpoints (``last/`` resumes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from lightning_fabric import Fabric
from lightning_fabric.utilities.seed import seed_everything
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from torch.utils.data import Dataset as TorchDataset

from llara_core.data.candidates import ensure_candidates
from llara_core.data.dataset import Dataset
from llara_core.errors import DataError, LlaraError
from llara_core.evaluation.metrics import candidate_metrics, summarise
from llara_core.fileio import read_safetensors, save_safetensors
from llara_core.interfaces import ItemEncoder
from llara_core.slots import ITEM_ENCODERS
from llara_core.sr.checkpoint import WEIGHTS, load_state_strict, save_item_encoder
from llara_core.sr.evaluate import encoder_scores
from llara_core.training.data import with_min_history
from llara_core.training.loop import BEST, LAST, LoopSettings, TrainLoop

METRICS_LOG = "metrics.jsonl"
#: used when neither the user nor the encoder's ``train_defaults`` set a value
GLOBAL_DEFAULTS = {
    "lr": 1e-3, "weight_decay": 0.0, "epochs": 100, "patience": 10, "batch_size": 256, "schedule": "constant",
    "monitor": "mrr",
}
#: val metrics the early stopping may watch; ties are broken by the next one in this order
MONITORS = ("mrr", "hr@1", "ndcg@10")


class SRTrainConfig(BaseModel):
    """Settings of one training run; ``None`` means the encoder's own ``train_defaults``."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model: str = Field(description="registered item encoder name, e.g. sasrec")
    params: dict[str, Any] = Field(default_factory=dict, description="the encoder's hyper-parameters")
    epochs: int | None = Field(None, gt=0, description="maximum passes over the train split")
    lr: float | None = Field(None, gt=0)
    weight_decay: float | None = Field(None, ge=0, description="Adam's L2 penalty")
    batch_size: int | None = Field(None, gt=0)
    patience: int | None = Field(None, gt=0, description="epochs without val improvement before stopping")
    schedule: Literal["constant", "cosine"] | None = Field(
        None, description="learning rate: constant, or cosine decay to 0 over `epochs` (per step)"
    )
    monitor: Literal["mrr", "hr@1", "ndcg@10"] | None = Field(
        None, description="val metric (mean over val_seeds) that picks the kept epoch; MRR uses the whole "
        "candidate ranking, so on ~100 val users it is steadier than HR@1, which moves one user at a time",
    )
    seed: int = 0
    min_history: int = Field(1, ge=0, description="train on rows with at least this many history items (as LLaRA's data.min_history)")
    val_candidates: int = Field(20, ge=2)
    val_seeds: list[int] = Field(
        [0, 1, 2, 3, 4], min_length=1, description="persisted val candidate seeds averaged for early stopping"
    )
    accelerator: str = "auto"
    threads: int | None = Field(
        1, gt=0, description="CPU threads for torch (None = torch's default); these small models gain "
        "little from more, and several threads slow down sharply when other processes share the cores",
    )
    max_minutes: float | None = Field(None, gt=0, description="stop after the epoch that passes this")
    progress: bool = True

    def resolved(self) -> SRTrainConfig:
        """A copy with every ``None`` filled from the encoder's defaults, then the global ones."""
        impl, _ = ITEM_ENCODERS.resolve(self.model)
        defaults = {**GLOBAL_DEFAULTS, **getattr(impl, "train_defaults", {})}
        filled = {k: defaults[k] for k in GLOBAL_DEFAULTS if getattr(self, k) is None}
        return self.model_copy(update=filled)


@dataclass
class TrainResult:
    encoder: ItemEncoder
    folder: Path
    best_epoch: int
    best_val: dict[str, float]
    epochs_run: int
    seconds: float
    config: SRTrainConfig  # resolved: every default filled in


class _Rows(TorchDataset):
    """Row indices into the padded train tensors (the loop's sampler orders them)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        return i


def _train_tensors(dataset: Dataset, encoder: ItemEncoder, min_history: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    train = with_min_history(dataset.split("train"), min_history, dataset.name, "min_history")
    history, lengths = train.padded(encoder.history_len, encoder.pad_id)
    return history, lengths, torch.tensor(train.targets, dtype=torch.long)


class SRRecipe:
    """Next-item prediction over the whole catalogue: the SR part of a run on the shared loop."""

    def __init__(self, encoder: ItemEncoder, dataset: Dataset, cfg: SRTrainConfig, device: Any):
        self.name = cfg.model
        self.encoder, self.dataset, self.cfg, self.device = encoder, dataset, cfg, device
        self.history, self.lengths, self.targets = _train_tensors(dataset, encoder, cfg.min_history)
        self.samples = _Rows(len(self.targets))
        self.val_split = dataset.split("val")
        self.val_candidates = [np.asarray(ensure_candidates(dataset, "val", cfg.val_candidates, seed)[0]) for seed in cfg.val_seeds]

    def module(self) -> ItemEncoder:
        return self.encoder

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self.encoder.parameters())

    def make_batch(self, rows: list[int], step: int, total_steps: int) -> tuple[torch.Tensor, ...]:
        idx = torch.tensor(rows, dtype=torch.long)
        return tuple(t[idx].to(self.device) for t in (self.history, self.lengths, self.targets))

    def loss(self, fmodel: Any, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        history, lengths, targets = batch
        return F.cross_entropy(fmodel(history, lengths), targets)

    def batch_tokens(self, batch: tuple[torch.Tensor, ...]) -> int:
        return int(batch[1].sum())

    def validate(self, fabric: Any) -> dict[str, float]:
        scores = encoder_scores(self.encoder, self.val_split)
        per_seed = [summarise(candidate_metrics(scores, cands, self.val_split.targets)) for cands in self.val_candidates]
        return {f"val_{k}": round(v, 6) for k, v in _mean_over_seeds(per_seed).items()}

    def monitor(self, metrics: dict[str, float]) -> tuple[float, ...]:
        order = (self.cfg.monitor, *(m for m in MONITORS if m != self.cfg.monitor))
        return tuple(metrics[f"val_{m}"] for m in order)

    def save_weights(self, folder: Path) -> None:
        state = {k: v.detach().contiguous().cpu() for k, v in self.encoder.state_dict().items()}
        save_safetensors(state, folder / WEIGHTS)

    def load_weights(self, folder: Path) -> None:
        load_state_strict(self.encoder, read_safetensors(folder / WEIGHTS, "item encoder weights"), str(folder / WEIGHTS))

    def log_fields(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def _mean_over_seeds(per_seed: list[dict[str, float]]) -> dict[str, float]:
    return {k: sum(m[k] for m in per_seed) / len(per_seed) for k in per_seed[0]}


def train_item_encoder(dataset: Dataset, config: SRTrainConfig, out_dir: str | Path, resume: bool = False) -> TrainResult:
    """Train ``config.model`` on ``dataset`` (saved, with its val candidates) into ``out_dir``;
    with ``resume``, continue the interrupted run in ``out_dir`` from its ``last`` checkpoint."""
    cfg = config.resolved()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if dataset.path is None:
        raise DataError(f"dataset {dataset.name!r} has no folder: save it before training")
    threads_before = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(dataset, cfg, out_dir, resume)
    finally:
        torch.set_num_threads(threads_before)


def _train(dataset: Dataset, cfg: SRTrainConfig, out_dir: Path, resume: bool) -> TrainResult:
    fabric = Fabric(accelerator=cfg.accelerator, devices=1, precision="32-true")
    seed_everything(cfg.seed, verbose=False)  # the encoder's initialisation
    encoder: ItemEncoder = ITEM_ENCODERS.build(cfg.model, cfg.params, n_items=dataset.n_items)
    recipe = SRRecipe(encoder, dataset, cfg, fabric.device)
    settings = LoopSettings(
        seed=cfg.seed, batch_size=cfg.batch_size, epochs=cfg.epochs, optimizer="adam", lr=cfg.lr,
        weight_decay=cfg.weight_decay, warmup_ratio=0.0, min_lr_ratio=0.0 if cfg.schedule == "cosine" else 1.0,
        val_each_epoch=True, patience=cfg.patience, log_every=None, drop_last=False, max_minutes=cfg.max_minutes,
        progress=cfg.progress,
    )
    loop = TrainLoop(recipe, settings, out_dir, fabric, Console(stderr=True))
    loop.s.checkpoint_every = loop.micro_per_epoch  # a resumable checkpoint after every epoch
    if resume:
        if not (out_dir / LAST).is_dir():
            raise LlaraError(f"{out_dir}: no '{LAST}' checkpoint to resume from")
        loop.resume()
    elif (out_dir / METRICS_LOG).exists():
        (out_dir / METRICS_LOG).unlink()  # a fresh run in an old folder starts a fresh log
    summary = loop.fit()
    recipe.load_weights(out_dir / BEST)
    encoder.eval()
    best_epoch = math.ceil(summary["best_step"] / loop.micro_per_epoch)
    best = {k.removeprefix("val_"): v for k, v in summary["best_metrics"].items()}
    training = cfg.model_dump(mode="json", exclude={"params", "progress"})
    training.update(
        train_rows=len(recipe.samples),
        epochs_run=summary["epochs"],
        best_epoch=best_epoch,
        seconds=summary["seconds"],
        device=str(fabric.device),
        torch_threads=torch.get_num_threads(),
    )
    save_item_encoder(
        encoder,
        cfg.model,
        out_dir,
        data_hash=dataset.content_hash,
        dataset=dataset.name,
        training=training,
        metrics={"val": {"split": "val", "n_candidates": cfg.val_candidates, "seeds": cfg.val_seeds, **best}},
    )
    return TrainResult(encoder, out_dir, best_epoch, best, summary["epochs"], summary["seconds"], cfg)
