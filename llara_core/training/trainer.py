"""The LLaRA trainer: LLaRA's recipe on the shared training loop (:mod:`llara_core.training.loop`).

The recipe draws, in the training process, each batch's text/hybrid modes and template from the
curriculum's p(t) at the loop's global optimiser step, builds the batch for the configured
objective (LLaRA's answer-token loss, or the listwise objectives over every sample's
candidates), validates by likelihood scoring of the persisted val candidates (mean over
``training.val_seeds``, under the training precision) or by the val loss, and saves exactly its
trainable tensors (LoRA + projector) in every checkpoint. Optimiser steps follow LLaRA (AdamW,
linear warm-up over ``warmup_ratio`` of the steps, cosine decay, gradient clipping).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from llara_core.config.schema import ExperimentConfig
from llara_core.data import Dataset
from llara_core.errors import LlaraError
from llara_core.evaluation.candidate_scoring import score_split
from llara_core.interfaces import PromptMode, PromptSample
from llara_core.model.backbone_setup import enable_gradient_checkpointing
from llara_core.model.llara import LLaRA
from llara_core.model.objectives import CandidateBatch
from llara_core.training.data import CandidateSamples, with_min_history
from llara_core.training.loop import BEST, LAST, LoopSettings, TrainLoop
from llara_core.training.memory_estimate import needs_checkpointing
from llara_core.training.mode_chooser import ModeChooser
from llara_core.training.precision import resolve_precision

__all__ = ["BEST", "LAST", "LLaRARecipe", "Trainer", "make_fabric"]

RUN_INFO = "run_info.json"


def make_fabric(cfg: ExperimentConfig):
    """Fabric for the configured accelerator, devices, strategy and (resolved) precision; the
    chosen precision and why is in ``fabric.llara_precision``. A sharding strategy is refused
    (:func:`check_replicated`)."""
    from lightning_fabric import Fabric

    t = cfg.training
    check_replicated(t.strategy)
    precision, reason = resolve_precision(t.precision, t.accelerator)
    fabric = Fabric(accelerator=t.accelerator, devices=t.devices, num_nodes=t.num_nodes, strategy=fabric_strategy(t.strategy), precision=precision)
    fabric.llara_precision = (precision, reason)
    return fabric


#: DDP launch methods and Fabric's names for them
DDP_START = {"ddp": "popen", "ddp_spawn": "spawn", "ddp_fork": "fork", "ddp_notebook": "fork"}


def check_replicated(name: str) -> None:
    """Refuse a strategy that shards parameters or optimiser state over the ranks (FSDP,
    DeepSpeed, XLA FSDP, model parallel): llara's checkpoints are rank 0's copy of the trainable
    tensors and of the optimiser state, complete only when every rank holds all of them.
    Gathering sharded state needs a GPU to test, which this build had not (docs/scaling.md)."""
    from lightning_fabric.strategies import (
        STRATEGY_REGISTRY,
        DeepSpeedStrategy,
        FSDPStrategy,
        ModelParallelStrategy,
        XLAFSDPStrategy,
    )

    cls = STRATEGY_REGISTRY[name]["strategy"] if name in STRATEGY_REGISTRY else None
    if cls is not None and issubclass(cls, (FSDPStrategy, DeepSpeedStrategy, XLAFSDPStrategy, ModelParallelStrategy)):
        raise LlaraError(
            f"training.strategy {name!r} shards parameters or optimiser state over the ranks ({cls.__name__}); llara's "
            "checkpoints (rank 0's copy) would be incomplete, so it trains only with ddp, ddp_spawn, ddp_fork or one device (docs/scaling.md)"
        )


def fabric_strategy(name: str) -> Any:
    """The strategy handed to Fabric: DDP variants become a DDPStrategy that tolerates unused
    parameters (a text-only batch of the curriculum leaves the projector out of the graph);
    every other name goes to Fabric as it is."""
    if name not in DDP_START:
        return name
    from lightning_fabric.strategies import DDPStrategy

    return DDPStrategy(start_method=DDP_START[name], find_unused_parameters=True)


def train_split(dataset: Dataset, max_samples: int | None, min_history: int):
    """The train split, cut to ``max_samples`` and filtered to ``min_history`` history items."""
    train = dataset.split("train")
    if max_samples:
        train = train.subset(range(min(max_samples, len(train))))
    return with_min_history(train, min_history, dataset.name)


class LLaRARecipe:
    """LLaRA's part of a training run (see the module docstring)."""

    name = "train"

    def __init__(self, model: LLaRA, dataset: Dataset, cfg: ExperimentConfig, device: Any):
        self.model, self.dataset, self.cfg, self.t = model, dataset, cfg, cfg.training
        self.train = train_split(dataset, cfg.data.max_train_samples, cfg.data.min_history)
        self.samples = CandidateSamples(self.train, dataset.n_items, cfg.data.n_candidates, self.t.seed)
        self.chooser = ModeChooser(model.curriculum, self.t.seed, self.t.hybrid_choice == "sample", self.t.behaviour_mode)
        self.title_chars = [len(model.prompt_builder.title(i)) for i in range(dataset.n_items)]
        self.notes: list[str] = []
        self._checkpointing(device)
        self.fmodel = None
        self.fabric = None
        self.rank, self.world_size = 0, 1
        #: (step, template, modes) of every micro-batch drawn in this process (for tests, checks)
        self.decisions: list[tuple[int, int, tuple[str, ...]]] = []

    def attach(self, fabric: Any) -> None:
        """Bind the recipe to its Fabric (rank and world size for sharded draws and losses)."""
        self.fabric, self.rank, self.world_size = fabric, int(fabric.global_rank), int(fabric.world_size)

    # ------------------------------------------------------------------ set-up
    def _checkpointing(self, device: Any) -> None:
        """Resolve ``gradient_checkpointing: auto`` from a memory estimate of the longest of 64
        sampled training batches (hybrid prompts, the configured objective)."""
        setting = getattr(self.model, "gradient_checkpointing", False)
        if setting is True or setting is False:
            self.notes.append(f"gradient checkpointing {'on' if setting else 'off'} (backbone.params.gradient_checkpointing: {str(setting).lower()})")
            return
        model, t = self.model, self.t
        idx = torch.randperm(len(self.samples), generator=torch.Generator().manual_seed(t.seed))[:64].tolist()
        mode = PromptMode.HYBRID if model.has_behaviour else PromptMode.TEXT
        tok = model.prompt_tokenizer
        longest, answers = 0, 0
        for i in idx:
            r = self.samples.sample(i, 0)
            prompt = model.build_prompts([PromptSample(r["history"], tuple(r["candidates"]), r["target"])], mode)[0]
            scored = r["candidates"] if t.objective != "lm" else [r["target"]]
            n_answers = [len(tok.answer_ids(model.prompt_builder.title(c))) for c in scored]
            size = len(tok.prompt_ids(prompt.text)) + sum(n_answers)
            if size > longest:
                longest, answers = size, sum(n_answers)
        on, note = needs_checkpointing(model.llm.config, longest * t.batch_size, answers * t.batch_size, device)
        if on:
            enable_gradient_checkpointing(model.llm)
        self.notes.append(note)

    # ------------------------------------------------------------------ the recipe protocol
    def module(self) -> LLaRA:
        return self.model

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def make_batch(self, rows: list[dict[str, Any]], step: int, total_steps: int):
        """The training batch of ``rows`` for the configured objective (on the model's device)."""
        model, t = self.model, self.t
        modes, template, _ = self.chooser.draw(step, total_steps, len(rows), model.prompt_builder.n_templates, self.rank, self.world_size)
        self.decisions.append((step, template, tuple(m.value for m in modes)))
        samples = [PromptSample(r["history"], tuple(r["candidates"]), r["target"]) for r in rows]
        prompts = model.build_prompts(samples, modes, template)
        if t.objective == "lm":
            return model.encode(prompts, with_answers=True)
        titles = [[model.prompt_builder.title(c) for c in s.candidates] for s in samples]
        targets = [list(s.candidates).index(s.target) for s in samples]
        return CandidateBatch.for_objective(t.objective, prompts, titles, targets, t.listwise_weight, t.listwise_length_normalise)

    def loss(self, fmodel: Any, batch: Any) -> torch.Tensor:
        """The batch's loss. Under several ranks, the answer-token mean of the LM loss is rescaled
        so that DDP's gradient average equals the mean over the global batch's answer tokens
        (ranks hold different token counts); per-sample objectives need no rescaling."""
        self.fmodel = fmodel
        loss = fmodel(batch)
        if self.world_size > 1 and not isinstance(batch, CandidateBatch):
            n = (batch.labels[:, 1:] != -100).sum().to(loss.dtype)
            total = self.fabric.all_reduce(n.detach().clone(), reduce_op="sum")
            loss = loss * n * self.world_size / total
        return loss

    def batch_tokens(self, batch: Any) -> int:
        return int(batch.n_tokens)

    def validate(self, fabric: Any) -> dict[str, float]:
        t, d = self.t, self.cfg.data
        mode = self.cfg.evaluation.prompt_mode or self.model.default_mode()
        if t.val_metric == "loss":
            return {"val_loss": self.validation_loss(mode)}
        seeds = t.val_seeds if t.val_seeds is not None else [d.candidate_seed]
        # several ranks: each scores its shard through the strategy's wrapper, all get every score
        shards = {"fabric": fabric, "forward": self.fmodel} if fabric.world_size > 1 else {}
        with fabric.autocast():  # the training precision: bf16 where the device computes it
            norm = self.cfg.scoring_length_normalise()  # rank as the objective scores: mean log-probs under listwise
            per_seed = [score_split(self.model, self.dataset, "val", d.n_candidates, s, mode, t.val_samples, norm, **shards).per_sample for s in seeds]
        return {f"val_{k}": float(np.mean([p[k].mean() for p in per_seed])) for k in per_seed[0]}

    @torch.no_grad()
    def validation_loss(self, mode: PromptMode) -> float:
        """The val split's loss: the mean over batches of ``training.batch_size`` samples (in
        order) of each batch's answer-token loss, weighted by its size. Several ranks each run
        their share of the batches through the strategy's wrapper and gather the rest, so every
        rank gets the single-process value."""
        from llara_core.data import ensure_candidates
        from llara_core.distributed import sharded_map

        d, bs = self.cfg.data, self.t.batch_size
        cands, _ = ensure_candidates(self.dataset, "val", d.n_candidates, d.candidate_seed)
        val = self.dataset.split("val")
        n = len(val) if self.t.val_samples is None else min(self.t.val_samples, len(val))
        forward = self.fmodel or self.model

        def batch_loss(b: int) -> float:
            rows = range(b * bs, min(n, (b + 1) * bs))
            samples = [PromptSample(val.histories[i][-10:], tuple(cands[i]), val.targets[i]) for i in rows]
            batch = self.model.encode(self.model.build_prompts(samples, mode), with_answers=True)
            return float(forward(batch)) * len(samples)

        self.model.eval()
        losses = sharded_map(self.fabric if self.world_size > 1 else None, -(-n // bs), lambda idx: [batch_loss(b) for b in idx])
        self.model.train()
        return sum(losses) / n

    def monitor(self, metrics: dict[str, float]) -> tuple[float, ...]:
        value = metrics[f"val_{self.t.val_metric}"]
        return (-value,) if self.t.val_metric == "loss" else (value,)

    def save_weights(self, folder: Path) -> None:
        """Every checkpoint is a model artefact (``LLaRA.from_pretrained`` loads it)."""
        self.model.save_pretrained(folder)

    def load_weights(self, folder: Path) -> None:
        from llara_core.model.artefact import is_artefact, read_weights

        if is_artefact(folder):
            read_weights(self.model, folder)
        else:  # a run saved before artefacts
            self.model.load_trainable(folder)

    def log_fields(self) -> dict[str, Any]:
        return {"p_hybrid": self.chooser.last_p, "hybrid_fraction": self.chooser.hybrid_fraction}

    def state_dict(self) -> dict[str, Any]:
        return {"chooser": self.chooser.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.chooser.load_state_dict(state["chooser"])


def loop_settings(cfg: ExperimentConfig, recipe: LLaRARecipe) -> LoopSettings:
    t = cfg.training
    return LoopSettings(
        seed=t.seed, batch_size=t.batch_size, grad_accum=t.grad_accum, epochs=t.epochs, max_steps=t.max_steps,
        optimizer="adamw", lr=t.lr, weight_decay=t.weight_decay, warmup_ratio=t.warmup_ratio,
        min_lr_ratio=t.min_lr_ratio, grad_clip=t.grad_clip, val_every=t.val_every, patience=t.patience,
        checkpoint_every=t.checkpoint_every, log_every=t.log_every, num_workers=t.num_workers, drop_last=True,
        length_group_window=t.length_group_window, lengths=recipe.samples.length_proxy(recipe.title_chars),
    )


class Trainer:
    """Trains ``model`` on ``dataset``'s train split as configured by ``cfg.training``."""

    def __init__(self, model: LLaRA, dataset: Dataset, cfg: ExperimentConfig, run_dir: Path, fabric: Any = None, console: Console | None = None):
        self.fabric = fabric or make_fabric(cfg)
        self.recipe = LLaRARecipe(model, dataset, cfg, self.fabric.device)
        self.recipe.attach(self.fabric)
        precision, why = getattr(self.fabric, "llara_precision", (cfg.training.precision, "as configured"))
        self.recipe.notes.insert(0, f"precision {precision} ({why})")
        self.loop = TrainLoop(self.recipe, loop_settings(cfg, self.recipe), Path(run_dir), self.fabric, console)
        self.cfg, self.run_dir = cfg, Path(run_dir)

    @property
    def state(self) -> dict[str, Any]:
        return self.loop.state

    @property
    def optimizer(self) -> Any:
        return self.loop.optimizer

    @property
    def total_steps(self) -> int:
        return self.loop.total_steps

    @total_steps.setter
    def total_steps(self, value: int) -> None:
        self.loop.total_steps = value

    def resume(self, folder: Path | None = None) -> None:
        self.loop.resume(folder)

    def fit(self) -> dict[str, Any]:
        """Train (see :class:`TrainLoop`); rank 0 prints the set-up notes and the effective batch
        and writes them to ``run_info.json`` (atomically)."""
        from llara_core.fileio import atomic_write_json

        fabric, t = self.fabric, self.cfg.training
        if fabric.is_global_zero:
            effective = t.batch_size * fabric.world_size * t.grad_accum
            notes = [*self.recipe.notes, f"effective batch {effective} ({t.batch_size} per device × {fabric.world_size} process(es) × {t.grad_accum} accumulation)"]
            for note in notes:
                self.loop.console.print(note, highlight=False)
            atomic_write_json(self.run_dir / RUN_INFO, {"notes": notes, "objective": t.objective, "effective_batch": effective})
        return self.loop.fit()
