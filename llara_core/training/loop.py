"""The one training loop of llara, shared by the LLaRA trainer and the SR trainer.

In the manner of torchtune's recipes, the loop owns everything generic — Fabric set-up, seeding,
the seeded and resumable sample order (optionally length-grouped), gradient accumulation and
clipping, the optimiser and the warm-up + cosine schedule, the metrics log and progress, the
non-finite-loss guard, validation every N steps or every epoch, early stopping on the recipe's
monitored value, ``best``/``last`` checkpoints and exact resume — and a :class:`Recipe` supplies
what is specific: its samples, how rows become a batch, the loss, the validation, and how its
weights are saved and loaded.

The global optimiser step is the loop's: recipes that need it (the curriculum) read it from
``make_batch(rows, step, total_steps)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset

from llara_core.distributed import agree_max, gather_objects
from llara_core.errors import LlaraError
from llara_core.fileio import atomic_write_json
from llara_core.training.data import EpochSampler, collate_raw
from llara_core.training.metrics_log import MetricsLog
from llara_core.training.schedule import warmup_cosine
from llara_core.training.state_io import load_checkpoint, rng_snapshot, save_checkpoint

LAST, BEST = "last", "best"
SUMMARY = "train_summary.json"


class Recipe(Protocol):
    """What a training job supplies to :class:`TrainLoop`.

    ``samples`` is indexed by the loop's sampler; its ``epoch`` attribute (if any) is set at the
    start of every epoch. ``monitor(metrics)`` turns validation metrics into a tuple the loop
    maximises (negate a loss). ``save_weights``/``load_weights`` write/read the trained tensors of
    one checkpoint folder; ``state_dict``/``load_state_dict`` carry any extra JSON state.
    """

    name: str
    samples: TorchDataset

    def parameters(self) -> list[torch.nn.Parameter]: ...
    def module(self) -> torch.nn.Module: ...
    def make_batch(self, rows: list[Any], step: int, total_steps: int) -> Any: ...
    def loss(self, fmodel: Any, batch: Any) -> torch.Tensor: ...
    def batch_tokens(self, batch: Any) -> int: ...
    def validate(self, fabric: Any) -> dict[str, float]: ...
    def monitor(self, metrics: dict[str, float]) -> tuple[float, ...]: ...
    def save_weights(self, folder: Path) -> None: ...
    def load_weights(self, folder: Path) -> None: ...
    def log_fields(self) -> dict[str, Any]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class LoopSettings:
    """The generic knobs of a run (filled from the LLaRA or SR config by its trainer).

    ``val_every``: validate every N optimiser steps; ``val_each_epoch``: also at each epoch's end.
    ``log_every``: a metrics record every N steps (None: at each epoch's end).
    """

    seed: int = 0
    batch_size: int = 8
    grad_accum: int = 1
    epochs: float = 1.0
    max_steps: int | None = None
    optimizer: Literal["adamw", "adam"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    min_lr_ratio: float = 0.0
    grad_clip: float | None = None
    val_every: int | None = None
    val_each_epoch: bool = False
    patience: int | None = None
    checkpoint_every: int | None = None
    log_every: int | None = 1
    num_workers: int = 0
    drop_last: bool = True
    length_group_window: int | None = None
    max_minutes: float | None = None
    progress: bool = True
    lengths: Callable[[int], Sequence[int]] | None = None


def saved_global_batch(state: dict[str, Any]) -> tuple[int, int] | None:
    """(per-device batch, processes) a checkpoint's trainer state was saved with; None for a
    checkpoint from before llara recorded them."""
    if isinstance(state.get("batch_size"), int) and isinstance(state.get("world_size"), int):
        return state["batch_size"], state["world_size"]
    return None


def _optimizer(settings: LoopSettings, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if not params:
        raise LlaraError("nothing to train: every parameter is frozen")
    if settings.optimizer == "adam":  # weight decay as an L2 penalty in the gradient
        return torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    return torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)


class TrainLoop:
    """Runs ``recipe`` under ``fabric`` as ``settings`` say, writing into ``run_dir``."""

    def __init__(self, recipe: Recipe, settings: LoopSettings, run_dir: Path, fabric: Any, console: Console | None = None):
        self.recipe, self.s, self.fabric = recipe, settings, fabric
        self.run_dir = Path(run_dir)
        self.console = console or Console()
        self.fabric.seed_everything(settings.seed + fabric.global_rank, verbose=False)  # dropout; resume restores its own
        n = len(recipe.samples)
        world = fabric.world_size
        per_rank = n // world
        self.micro_per_epoch = per_rank // settings.batch_size if settings.drop_last else math.ceil(per_rank / settings.batch_size)
        if self.micro_per_epoch == 0:
            raise LlaraError(f"training.batch_size {settings.batch_size} is larger than the train split ({n} samples)")
        self.total_steps = settings.max_steps or max(1, math.ceil(settings.epochs * self.micro_per_epoch / settings.grad_accum))
        optimizer = _optimizer(settings, recipe.parameters())
        self.fmodel, self.optimizer = fabric.setup(recipe.module(), optimizer)
        self.scheduler = warmup_cosine(optimizer, self.total_steps, settings.warmup_ratio, settings.min_lr_ratio)
        self.state: dict[str, Any] = {
            "global_step": 0, "epoch": 0, "micro_in_epoch": 0, "best": None, "best_step": None,
            "best_metrics": None, "bad_validations": 0, "stopped_early": False, "total_steps": self.total_steps,
            "world_size": world, "batch_size": settings.batch_size,
        }
        self.log = MetricsLog(self.run_dir, tensorboard=fabric.is_global_zero)
        #: set (e.g. by a signal handler, on any one rank) to stop at the next optimiser-step
        #: boundary after writing ``last``; ``fit`` then returns with ``summary["interrupted"] = True``
        self.stop_requested = False
        #: the number of the signal that asked to stop (reported in the summary as ``signal``)
        self.stop_signal: int | None = None

    # ------------------------------------------------------------------ checkpoints
    def _raw_optimizer(self) -> torch.optim.Optimizer:
        return getattr(self.optimizer, "optimizer", self.optimizer)

    def save(self, name: str = LAST) -> Path:
        """Checkpoint written once, by rank 0, atomically, with every rank's RNG state."""
        folder = self.run_dir / name
        rngs = gather_objects(self.fabric, rng_snapshot())
        if self.fabric.is_global_zero:
            state = {**self.state, "recipe": self.recipe.state_dict()}
            save_checkpoint(folder, self.recipe.save_weights, self._raw_optimizer(), self.scheduler, state, rngs)
        self.fabric.barrier()
        return folder

    def resume(self, folder: Path | None = None) -> None:
        """Continue from ``folder`` (default ``last``): weights, optimiser, schedule, RNGs, state."""
        folder = folder or self.run_dir / LAST
        state = load_checkpoint(folder, self.recipe.load_weights, self._raw_optimizer(), self.scheduler, self.fabric.global_rank)
        self.recipe.load_state_dict(state.pop("recipe"))
        for key in ("scheduler", "rng"):
            state.pop(key, None)
        if state["total_steps"] != self.total_steps:
            raise LlaraError(f"{folder}: the checkpoint plans {state['total_steps']} steps, this config {self.total_steps}")
        self._check_global_batch(folder, state)
        self.state.update(state, world_size=self.fabric.world_size, batch_size=self.s.batch_size)
        if self.fabric.is_global_zero:
            self.log.truncate_after(self.state["global_step"])

    def _check_global_batch(self, folder: Path, state: dict[str, Any]) -> None:
        """A checkpoint continues only with the global batch it was trained with (per-device
        batch × processes); :func:`saved_global_batch` says what it was."""
        saved = saved_global_batch(state)
        now = self.s.batch_size * self.fabric.world_size
        if saved is not None and saved[0] * saved[1] != now:
            raise LlaraError(
                f"{folder}: saved under {saved[1]} process(es) × training.batch_size {saved[0]}, resumed under "
                f"{self.fabric.world_size} × {self.s.batch_size}: the global batch would change from {saved[0] * saved[1]} to {now}"
            )

    # ------------------------------------------------------------------ validation
    def _validate(self) -> bool:
        """Validate, log, keep ``best``; True when early stopping triggers."""
        metrics = self.recipe.validate(self.fabric)
        self.recipe.module().train()
        value = list(self.recipe.monitor(metrics))
        if self.state["best"] is None or value > self.state["best"]:
            self.state.update(best=value, best_step=self.state["global_step"], best_metrics=metrics, bad_validations=0)
            self.save(BEST)
        else:
            self.state["bad_validations"] += 1
        self._pending.update(metrics)
        if self.s.progress and self.fabric.is_global_zero:
            line = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            self.console.print(f"step {self.state['global_step']}: {line}", highlight=False)
        return self.s.patience is not None and self.state["bad_validations"] >= self.s.patience

    # ------------------------------------------------------------------ loop
    def _stop_decisions(self) -> tuple[bool, bool]:
        """(interrupted, timed out), the same on every rank: a stop asked on one rank, or one
        rank's clock past ``max_minutes``, stops them all at this step boundary (a rank that went
        on alone would wait forever in the next checkpoint's or step's collectives). A
        non-finite loss needs no vote: the loss checked is already the mean over the ranks."""
        s = self.s
        timed_out = s.max_minutes is not None and time.perf_counter() - self._start > s.max_minutes * 60
        stop, signum, late = agree_max(self.fabric, [bool(self.stop_requested), self.stop_signal or 0, timed_out])
        if stop:
            self.stop_requested, self.stop_signal = True, signum or None
        return bool(stop), bool(late)

    def _progress(self) -> Progress:
        return Progress(
            TextColumn(f"[bold]{self.recipe.name}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=self.console,
            disable=not (self.fabric.is_global_zero and self.s.progress),
        )

    def _loader(self) -> Iterator[list[Any]]:
        s, st = self.s, self.state
        if hasattr(self.recipe.samples, "epoch"):
            self.recipe.samples.epoch = st["epoch"]
        sampler = EpochSampler(
            len(self.recipe.samples), s.seed, st["epoch"], st["micro_in_epoch"] * s.batch_size,
            self.fabric.global_rank, self.fabric.world_size, lengths=s.lengths, batch_size=s.batch_size,
            window=s.length_group_window,
        )
        return iter(DataLoader(
            self.recipe.samples, batch_size=s.batch_size, sampler=sampler, num_workers=s.num_workers,
            collate_fn=collate_raw, drop_last=s.drop_last,
            generator=torch.Generator().manual_seed(s.seed + st["epoch"]),  # keeps the global RNG (dropout) untouched
        ))

    def _record(self, step: int) -> dict[str, Any]:
        elapsed = time.perf_counter() - self._t0
        steps = max(1, self._window_n / self.s.grad_accum)
        record = {
            "step": step,
            "epoch": round(self.state["epoch"] + self.state["micro_in_epoch"] / self.micro_per_epoch, 4),
            "loss": self._window_loss / max(1, self._window_n),
            "lr": self._lr,
            **self.recipe.log_fields(),
            "tokens_per_s": self._tokens / elapsed if elapsed > 0 else 0.0,
            "s_per_step": elapsed / steps,
            "seconds": round(time.perf_counter() - self._start, 2),
        }
        self._tokens, self._window_loss, self._window_n, self._t0 = 0, 0.0, 0, time.perf_counter()
        return record

    def _flush(self, progress: Progress, task: Any) -> None:
        """Write the pending record (training window and/or validation metrics) once."""
        if not self._pending:
            return
        record = self._pending
        self._pending = {}
        if self.fabric.is_global_zero:
            self.log.log(record)
        if "loss" in record:
            info = f"loss {record['loss']:.3f} lr {record['lr']:.2e} {record['tokens_per_s']:.0f} tok/s"
            progress.update(task, info=info)
            if self.fabric.is_global_zero and self.s.progress and not self.console.is_terminal:
                progress.console.print(f"step {record['step']}/{self.total_steps}: {info}, {record['s_per_step']:.1f} s/step", highlight=False)

    def fit(self) -> dict[str, Any]:
        """Train until ``total_steps``, early stopping or ``max_minutes``; returns a summary."""
        s, st, fabric = self.s, self.state, self.fabric
        module = self.recipe.module()
        module.train()
        self._tokens, self._window_loss, self._window_n = 0, 0.0, 0
        self._start = self._t0 = time.perf_counter()
        self._pending: dict[str, Any] = {}
        self._lr = self.scheduler.get_last_lr()[0]
        stop = st["stopped_early"]
        micro = 0
        with self._progress() as progress:
            task = progress.add_task("train", total=self.total_steps, completed=st["global_step"], info="")
            while st["global_step"] < self.total_steps and not stop:
                epoch_done = True
                for rows in self._loader():
                    batch = self.recipe.make_batch(rows, st["global_step"], self.total_steps)
                    micro += 1
                    accumulating = micro % s.grad_accum != 0
                    with fabric.no_backward_sync(self.fmodel, enabled=accumulating):
                        loss = self.recipe.loss(self.fmodel, batch)
                        value = float(loss.detach())
                        if fabric.world_size > 1:  # the logged value is the mean over ranks
                            value = float(fabric.all_reduce(loss.detach().clone(), reduce_op="mean"))
                        if not math.isfinite(value):
                            raise LlaraError(
                                f"{self.recipe.name}: the training loss became {value} at step {st['global_step'] + 1}; "
                                f"lower the learning rate (the last checkpoint in {self.run_dir / LAST} is before it)"
                            )
                        fabric.backward(loss / s.grad_accum)
                    self._tokens += self.recipe.batch_tokens(batch)
                    self._window_loss += value
                    self._window_n += 1
                    st["micro_in_epoch"] += 1
                    if accumulating:
                        continue
                    if s.grad_clip:
                        fabric.clip_gradients(self.fmodel, self.optimizer, max_norm=s.grad_clip, error_if_nonfinite=False)
                    self.optimizer.step()
                    self._lr = self.scheduler.get_last_lr()[0]
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
                    st["global_step"] += 1
                    step = st["global_step"]
                    last_of_epoch = st["micro_in_epoch"] >= self.micro_per_epoch
                    if (s.log_every and step % s.log_every == 0) or step == self.total_steps or (s.log_every is None and last_of_epoch):
                        self._pending.update(self._record(step))
                    progress.update(task, completed=step)
                    validate = (s.val_every and (step % s.val_every == 0 or step == self.total_steps)) or (s.val_each_epoch and last_of_epoch)
                    if validate:
                        stop = self._validate()
                        st["stopped_early"] = stop
                        self._t0 = time.perf_counter()
                    self._flush(progress, task)
                    interrupted, timed_out = self._stop_decisions()
                    if (s.checkpoint_every and step % s.checkpoint_every == 0) or step == self.total_steps or stop or interrupted:
                        self.save(LAST)
                    if interrupted:
                        if fabric.is_global_zero:
                            self.log.close()
                        return {"global_step": step, "total_steps": self.total_steps, "interrupted": True,
                                "signal": self.stop_signal, "checkpoint": str(self.run_dir / LAST)}
                    if step >= self.total_steps or stop or (timed_out and last_of_epoch):
                        stop = stop or timed_out
                        epoch_done = last_of_epoch
                        break
                if epoch_done:
                    st["epoch"] += 1
                    st["micro_in_epoch"] = 0
        if not (s.val_every or s.val_each_epoch):  # no validation: the final weights are the ones to use
            self.save(BEST)
        if fabric.is_global_zero:
            self.log.close()
        summary = {
            "global_step": st["global_step"],
            "total_steps": self.total_steps,
            "epochs": st["epoch"],
            "best": st["best"][0] if st["best"] else None,
            "best_step": st["best_step"],
            "best_metrics": st["best_metrics"],
            "stopped_early": st["stopped_early"],
            "seconds": round(time.perf_counter() - self._start, 1),
            **self.recipe.log_fields(),
        }
        if fabric.is_global_zero:
            atomic_write_json(self.run_dir / SUMMARY, summary, indent=2)
        return summary
