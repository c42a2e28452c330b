"""The LLaRA trainer on Lightning Fabric.

It owns the global optimiser step: the curriculum is asked for p(t) at that step and the
text/hybrid choice is drawn here, in the training process. Optimiser steps follow LLaRA
(AdamW, linear warm-up over ``warmup_ratio`` of the steps, cosine decay, gradient clipping).
Checkpoints hold only the trainable tensors plus optimiser, scheduler, curriculum and RNG
states, so ``resume`` continues exactly where a run stopped.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
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

from llara_core.config.schema import ExperimentConfig
from llara_core.data import Dataset
from llara_core.evaluation.candidate_scoring import score_split
from llara_core.interfaces import PromptSample
from llara_core.model.backbone_setup import enable_gradient_checkpointing
from llara_core.model.llara import LLaRA
from llara_core.model.objectives import CandidateBatch
from llara_core.training.data import CandidateSamples, EpochSampler, collate_raw
from llara_core.training.memory_estimate import needs_checkpointing
from llara_core.training.metrics_log import MetricsLog
from llara_core.training.mode_chooser import ModeChooser
from llara_core.training.precision import resolve_precision
from llara_core.training.schedule import warmup_cosine
from llara_core.training.state_io import load_checkpoint, save_checkpoint

LAST, BEST = "last", "best"


def make_fabric(cfg: ExperimentConfig):
    """Fabric for the configured accelerator, devices, strategy and (resolved) precision; the
    chosen precision and why is in ``fabric.llara_precision``."""
    from lightning_fabric import Fabric

    t = cfg.training
    precision, reason = resolve_precision(t.precision, t.accelerator)
    fabric = Fabric(accelerator=t.accelerator, devices=t.devices, strategy=t.strategy, precision=precision)
    fabric.llara_precision = (precision, reason)
    return fabric


class Trainer:
    """Trains ``model`` on ``dataset``'s train split as configured by ``cfg.training``."""

    def __init__(self, model: LLaRA, dataset: Dataset, cfg: ExperimentConfig, run_dir: Path, fabric: Any = None, console: Console | None = None):
        self.model = model
        self.dataset = dataset
        self.cfg = cfg
        self.t = cfg.training
        self.run_dir = Path(run_dir)
        self.console = console or Console()
        self.fabric = fabric or make_fabric(cfg)
        self.fabric.seed_everything(self.t.seed + self.fabric.global_rank, verbose=False)  # dropout; resume restores its own RNG state
        train = dataset.split("train")
        if cfg.data.max_train_samples:
            train = train.subset(range(min(cfg.data.max_train_samples, len(train))))
        keep = [i for i, h in enumerate(train.histories) if len(h) >= cfg.data.min_history]
        self.train = train.subset(keep) if len(keep) < len(train) else train
        self.samples = CandidateSamples(self.train, dataset.n_items, cfg.data.n_candidates, self.t.seed)
        world = self.fabric.world_size
        self.micro_per_epoch = len(self.train) // world // self.t.batch_size
        if self.micro_per_epoch == 0:
            raise ValueError(f"training.batch_size {self.t.batch_size} is larger than the train split ({len(self.train)} samples)")
        self.total_steps = self.t.max_steps or max(1, math.ceil(self.t.epochs * self.micro_per_epoch / self.t.grad_accum))
        self.chooser = ModeChooser(model.curriculum, self.t.seed, self.t.hybrid_choice == "sample", self.t.behaviour_mode)
        self.title_chars = [len(model.prompt_builder.title(i)) for i in range(dataset.n_items)]
        self.notes = [f"precision {p} ({why})" for p, why in [getattr(self.fabric, "llara_precision", (self.t.precision, "as configured"))]]
        self._setup_checkpointing()
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("nothing to train: the backbone is frozen and there is no projector")
        optimizer = torch.optim.AdamW(params, lr=self.t.lr, weight_decay=self.t.weight_decay)
        self.fmodel, self.optimizer = self.fabric.setup(model, optimizer)
        self.scheduler = warmup_cosine(self.optimizer.optimizer if hasattr(self.optimizer, "optimizer") else optimizer, self.total_steps, self.t.warmup_ratio, self.t.min_lr_ratio)
        self.state: dict[str, Any] = {
            "global_step": 0,
            "epoch": 0,
            "micro_in_epoch": 0,
            "best": None,
            "best_step": None,
            "bad_validations": 0,
            "stopped_early": False,
            "total_steps": self.total_steps,
        }
        self.log = MetricsLog(self.run_dir)

    # ------------------------------------------------------------------ batches
    def make_batch(self, rows: list[dict[str, Any]], modes, template: int):
        """The training batch of ``rows`` for the configured objective (on the model's device)."""
        model, t = self.model, self.t
        samples = [PromptSample(r["history"], tuple(r["candidates"]), r["target"]) for r in rows]
        prompts = model.build_prompts(samples, modes, template)
        if t.objective == "lm":
            return model.encode(prompts, with_answers=True)
        titles = [[model.prompt_builder.title(c) for c in s.candidates] for s in samples]
        targets = [list(s.candidates).index(s.target) for s in samples]
        return CandidateBatch.for_objective(t.objective, prompts, titles, targets, t.listwise_weight, t.listwise_length_normalise)

    def _setup_checkpointing(self) -> None:
        """Resolve ``gradient_checkpointing: auto`` from a memory estimate of the longest of 64
        sampled training batches (hybrid prompts, the configured objective)."""
        setting = getattr(self.model, "gradient_checkpointing", False)
        if setting is True:
            self.notes.append("gradient checkpointing on (backbone.params.gradient_checkpointing: true)")
            return
        if setting is False:
            self.notes.append("gradient checkpointing off (backbone.params.gradient_checkpointing: false)")
            return
        from llara_core.interfaces import PromptMode

        model, t = self.model, self.t
        rng = torch.Generator().manual_seed(t.seed)
        idx = torch.randperm(len(self.samples), generator=rng)[:64].tolist()
        mode = PromptMode.HYBRID if model.has_behaviour else PromptMode.TEXT
        tok = model.prompt_tokenizer
        longest, answers = 0, 0
        for i in idx:
            r = self.samples.sample(i, 0)
            prompt = model.build_prompts([PromptSample(r["history"], tuple(r["candidates"]), r["target"])], mode)[0]
            n_answers = [len(tok.answer_ids(model.prompt_builder.title(c))) for c in (r["candidates"] if t.objective != "lm" else [r["target"]])]
            size = len(tok.prompt_ids(prompt.text)) + sum(n_answers)
            if size > longest:
                longest, answers = size, sum(n_answers)
        on, note = needs_checkpointing(model.llm.config, longest * t.batch_size, answers * t.batch_size, self.fabric.device)
        if on:
            enable_gradient_checkpointing(model.llm)
        self.notes.append(note)

    # ------------------------------------------------------------------ checkpoints
    def _raw_optimizer(self) -> torch.optim.Optimizer:
        return getattr(self.optimizer, "optimizer", self.optimizer)

    def save(self, name: str = LAST) -> Path:
        state = {**self.state, "chooser": self.chooser.state_dict()}
        folder = self.run_dir / name
        if self.fabric.is_global_zero:
            save_checkpoint(folder, self.model, self._raw_optimizer(), self.scheduler, state)
        self.fabric.barrier()
        return folder

    def resume(self, folder: Path | None = None) -> None:
        state = load_checkpoint(folder or self.run_dir / LAST, self.model, self._raw_optimizer(), self.scheduler)
        self.chooser.load_state_dict(state.pop("chooser"))
        for key in ("scheduler", "rng"):
            state.pop(key, None)
        if state["total_steps"] != self.total_steps:
            raise ValueError(f"the checkpoint plans {state['total_steps']} steps, this config {self.total_steps}")
        self.state.update(state)
        self.log.truncate_after(self.state["global_step"])

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float]:
        t, d = self.t, self.cfg.data
        mode = self.cfg.evaluation.prompt_mode or self.model.default_mode()
        if t.val_metric == "loss":
            return {"val_loss": self.validation_loss(mode)}
        seeds = t.val_seeds if t.val_seeds is not None else [d.candidate_seed]
        with self.fabric.autocast():  # the training precision: bf16 where the device computes it
            per_seed = [score_split(self.model, self.dataset, "val", d.n_candidates, s, mode, t.val_samples).per_sample for s in seeds]
        return {f"val_{k}": float(np.mean([p[k].mean() for p in per_seed])) for k in per_seed[0]}

    @torch.no_grad()
    def validation_loss(self, mode) -> float:
        from llara_core.data import ensure_candidates

        d = self.cfg.data
        cands, _ = ensure_candidates(self.dataset, "val", d.n_candidates, d.candidate_seed)
        val = self.dataset.split("val")
        n = len(val) if self.t.val_samples is None else min(self.t.val_samples, len(val))
        self.model.eval()
        losses = []
        for s in range(0, n, self.t.batch_size):
            samples = [PromptSample(val.histories[i][-10:], tuple(cands[i]), val.targets[i]) for i in range(s, min(n, s + self.t.batch_size))]
            batch = self.model.encode(self.model.build_prompts(samples, mode), with_answers=True)
            losses.append(float(self.fmodel(batch)) * len(samples))
        self.model.train()
        return sum(losses) / n

    def _after_validation(self, metrics: dict[str, float]) -> bool:
        """Track the best checkpoint; True when early stopping triggers."""
        key = f"val_{self.t.val_metric}"
        value = metrics[key]
        better = self.state["best"] is None or (value < self.state["best"] if self.t.val_metric == "loss" else value > self.state["best"])
        if better:
            self.state.update(best=value, best_step=self.state["global_step"], bad_validations=0)
            self.save(BEST)
        else:
            self.state["bad_validations"] += 1
        return self.t.patience is not None and self.state["bad_validations"] >= self.t.patience

    # ------------------------------------------------------------------ loop
    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            disable=not self.fabric.is_global_zero,
        )

    def fit(self) -> dict[str, Any]:
        """Train until ``total_steps`` optimiser steps or early stopping; returns a summary."""
        t = self.t
        model, fabric = self.model, self.fabric
        model.train()
        if fabric.is_global_zero:
            for note in self.notes:
                self.console.print(note, highlight=False)
            info = {"notes": self.notes, "objective": t.objective, "effective_batch": t.batch_size * fabric.world_size * t.grad_accum}
            (self.run_dir / "run_info.json").write_text(json.dumps(info, indent=2) + "\n")
        n_templates = model.prompt_builder.n_templates
        tokens, t0, window_loss, window_n = 0, time.perf_counter(), 0.0, 0
        stop = self.state["stopped_early"]
        micro = 0
        with self._progress() as progress:
            task = progress.add_task("train", total=self.total_steps, completed=self.state["global_step"], info="")
            while self.state["global_step"] < self.total_steps and not stop:
                self.samples.epoch = self.state["epoch"]
                sampler = EpochSampler(len(self.train), t.seed, self.state["epoch"], self.state["micro_in_epoch"] * t.batch_size, fabric.global_rank, fabric.world_size,
                                       lengths=self.samples.length_proxy(self.title_chars), batch_size=t.batch_size, window=t.length_group_window)
                loader = DataLoader(self.samples, batch_size=t.batch_size, sampler=sampler, num_workers=t.num_workers, collate_fn=collate_raw, drop_last=True,
                                    generator=torch.Generator().manual_seed(t.seed + self.state["epoch"]))  # keeps the global RNG (dropout) untouched
                for rows in loader:
                    modes, template, p = self.chooser.draw(self.state["global_step"], self.total_steps, len(rows), n_templates)
                    batch = self.make_batch(rows, modes, template)
                    micro += 1
                    accumulating = micro % t.grad_accum != 0
                    with fabric.no_backward_sync(self.fmodel, enabled=accumulating):
                        loss = self.fmodel(batch)
                        fabric.backward(loss / t.grad_accum)
                    tokens += batch.n_tokens
                    window_loss += float(loss.detach())
                    window_n += 1
                    self.state["micro_in_epoch"] += 1
                    if accumulating:
                        continue
                    if t.grad_clip:
                        fabric.clip_gradients(self.fmodel, self.optimizer, max_norm=t.grad_clip, error_if_nonfinite=False)
                    self.optimizer.step()
                    lr = self.scheduler.get_last_lr()[0]
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
                    self.state["global_step"] += 1
                    step = self.state["global_step"]
                    if step % t.log_every == 0 or step == self.total_steps:
                        elapsed = time.perf_counter() - t0
                        record = {
                            "step": step,
                            "epoch": self.state["epoch"],
                            "loss": window_loss / window_n,
                            "lr": lr,
                            "p_hybrid": p,
                            "hybrid_fraction": self.chooser.hybrid_fraction,
                            "tokens_per_s": tokens / elapsed if elapsed > 0 else 0.0,
                            "s_per_step": elapsed / max(1, window_n / t.grad_accum),
                        }
                        if fabric.is_global_zero:
                            self.log.log(record)
                        info = f"loss {record['loss']:.3f} lr {lr:.2e} p {p:.2f} hyb {self.chooser.hybrid_fraction:.2f} {record['tokens_per_s']:.0f} tok/s"
                        progress.update(task, info=info)
                        if fabric.is_global_zero and not self.console.is_terminal:  # logs: a line instead of a bar
                            progress.console.print(f"step {step}/{self.total_steps}: {info}, {record['s_per_step']:.1f} s/step", highlight=False)
                        tokens, t0, window_loss, window_n = 0, time.perf_counter(), 0.0, 0
                    progress.update(task, completed=step)
                    if t.val_every and (step % t.val_every == 0 or step == self.total_steps):
                        metrics = self.validate()
                        model.train()
                        stop = self._after_validation(metrics)
                        self.state["stopped_early"] = stop
                        if fabric.is_global_zero:
                            self.log.log({"step": step, **metrics})
                        progress.console.print(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
                        t0 = time.perf_counter()
                    if (t.checkpoint_every and step % t.checkpoint_every == 0) or step == self.total_steps or stop:
                        self.save(LAST)
                    if step >= self.total_steps or stop:
                        break
                else:
                    self.state["epoch"] += 1
                    self.state["micro_in_epoch"] = 0
        if not t.val_every:  # no validation: the final weights are the ones to use
            self.save(BEST)
        self.log.close()
        summary = {
            "global_step": self.state["global_step"],
            "total_steps": self.total_steps,
            "best": self.state["best"],
            "best_step": self.state["best_step"],
            "stopped_early": self.state["stopped_early"],
            "hybrid_fraction": self.chooser.hybrid_fraction,
        }
        if fabric.is_global_zero:
            (self.run_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
        return summary
