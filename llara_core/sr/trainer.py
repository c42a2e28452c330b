"""Train an item encoder as a sequential recommender (Lightning Fabric, CPU or GPU).

Every train sample is one step of next-item prediction: cross-entropy of the encoder's logits
over the whole catalogue against the sample's target, optimised with Adam. After each epoch the
model ranks the persisted validation candidates (``val_candidates`` items per sample, for each
seed of ``val_seeds``); the best epoch by the ``monitor`` metric (default MRR) averaged over those
seeds is kept, and training stops after ``patience`` epochs without improvement. Both choices fight
noise: with LLaRA's ~100 validation users, HR@1 on one draw moves by several points between epochs
from the draw alone, and HR@1 picks epochs one user at a time where MRR uses the whole ranking.
The learning rate is constant or follows a cosine decay to 0 over ``epochs`` (``schedule``). The output folder receives the checkpoint
(``model.safetensors`` + ``config.json``) and ``metrics.jsonl`` (one JSON object per epoch).
"""

from __future__ import annotations

import json
import math
import time
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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch.utils.data import DataLoader, TensorDataset

from llara_core.data.candidates import ensure_candidates
from llara_core.data.dataset import Dataset
from llara_core.errors import DataError, LlaraError
from llara_core.evaluation.metrics import candidate_metrics, summarise
from llara_core.interfaces import ItemEncoder
from llara_core.slots import ITEM_ENCODERS
from llara_core.sr.checkpoint import save_item_encoder
from llara_core.sr.evaluate import encoder_scores
from llara_core.training.schedule import warmup_cosine

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
    min_history: int = Field(0, ge=0, description="train on rows with at least this many history items")
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


def _train_tensors(dataset: Dataset, encoder: ItemEncoder, min_history: int) -> TensorDataset:
    train = dataset.split("train")
    keep = [i for i, h in enumerate(train.histories) if len(h) >= min_history]
    if not keep:
        raise DataError(f"{dataset.name}: no train row has at least {min_history} history items")
    train = train.subset(keep) if len(keep) < len(train) else train
    history, lengths = train.padded(encoder.history_len, encoder.pad_id)
    return TensorDataset(history, lengths, torch.tensor(train.targets, dtype=torch.long))


def _mean_over_seeds(per_seed: list[dict[str, float]]) -> dict[str, float]:
    return {k: sum(m[k] for m in per_seed) / len(per_seed) for k in per_seed[0]}


def _better(a: dict[str, float], b: dict[str, float] | None, monitor: str) -> bool:
    order = (monitor, *(m for m in MONITORS if m != monitor))
    return b is None or tuple(a[m] for m in order) > tuple(b[m] for m in order)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        disable=not enabled,
        console=Console(stderr=True),
    )


def train_item_encoder(dataset: Dataset, config: SRTrainConfig, out_dir: str | Path) -> TrainResult:
    """Train ``config.model`` on ``dataset`` (saved, with its val candidates) into ``out_dir``."""
    cfg = config.resolved()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if dataset.path is None:
        raise DataError(f"dataset {dataset.name!r} has no folder: save it before training")
    threads_before = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(dataset, cfg, out_dir)
    finally:
        torch.set_num_threads(threads_before)


def _train(dataset: Dataset, cfg: SRTrainConfig, out_dir: Path) -> TrainResult:
    fabric = Fabric(accelerator=cfg.accelerator, devices=1, precision="32-true")
    seed_everything(cfg.seed, verbose=False)
    encoder: ItemEncoder = ITEM_ENCODERS.build(cfg.model, cfg.params, n_items=dataset.n_items)
    data = _train_tensors(dataset, encoder, cfg.min_history)
    loader = DataLoader(
        data, batch_size=cfg.batch_size, shuffle=True, generator=torch.Generator().manual_seed(cfg.seed)
    )
    optimizer = torch.optim.Adam(encoder.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # no warm-up; cosine decays to 0 over every epoch, constant keeps the factor at 1
    scheduler = warmup_cosine(optimizer, cfg.epochs * len(loader), 0.0, min_ratio=0.0 if cfg.schedule == "cosine" else 1.0)
    model, optimizer = fabric.setup(encoder, optimizer)
    loader = fabric.setup_dataloaders(loader)
    val_split = dataset.split("val")
    val_candidates = [np.asarray(ensure_candidates(dataset, "val", cfg.val_candidates, seed)[0]) for seed in cfg.val_seeds]

    log_path = out_dir / METRICS_LOG
    log_path.write_text("")
    best: dict[str, float] | None = None
    best_state: dict[str, torch.Tensor] = {}
    best_epoch, stale, epoch = 0, 0, 0
    start = time.perf_counter()
    with _progress(cfg.progress) as bar:
        epochs_task = bar.add_task(f"{cfg.model} epochs", total=cfg.epochs, info="")
        batch_task = bar.add_task("batches", total=len(loader), info="")
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            bar.reset(batch_task, total=len(loader))
            total, count = 0.0, 0
            for history, lengths, targets in loader:
                loss = F.cross_entropy(model(history, lengths), targets)
                optimizer.zero_grad(set_to_none=True)
                fabric.backward(loss)
                optimizer.step()
                scheduler.step()
                if not math.isfinite(loss.item()):
                    raise LlaraError(f"{cfg.model}: the training loss became {loss.item()} in epoch {epoch}; lower --lr")
                total += loss.item() * len(targets)
                count += len(targets)
                bar.update(batch_task, advance=1, info=f"loss {loss.item():.4f}")
            scores = encoder_scores(encoder, val_split)
            val = _mean_over_seeds(
                [summarise(candidate_metrics(scores, cands, val_split.targets)) for cands in val_candidates]
            )
            improved = _better(val, best, cfg.monitor)
            if improved:
                best, best_epoch, stale = val, epoch, 0
                best_state = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
            else:
                stale += 1
            elapsed = time.perf_counter() - start
            row = {"epoch": epoch, "train_loss": total / max(count, 1), "lr": scheduler.get_last_lr()[0],
                   "seconds": round(elapsed, 2)}
            row.update({f"val_{k}": round(v, 6) for k, v in val.items()})
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            info = (f"loss {row['train_loss']:.4f}  val {cfg.monitor} {val[cfg.monitor]:.3f}  "
                    f"best {best[cfg.monitor]:.3f} @ {best_epoch}")
            bar.update(epochs_task, advance=1, info=info)
            if stale >= cfg.patience or (cfg.max_minutes and elapsed > cfg.max_minutes * 60):
                break
    seconds = time.perf_counter() - start
    encoder.load_state_dict(best_state)
    encoder.eval()
    training = cfg.model_dump(mode="json", exclude={"params", "progress"})
    training.update(
        train_rows=len(data),
        epochs_run=epoch,
        best_epoch=best_epoch,
        seconds=round(seconds, 1),
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
    return TrainResult(encoder, out_dir, best_epoch, best, epoch, seconds, cfg)

