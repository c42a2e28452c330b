"""Training steps compared by the train-step benchmarks (forward + backward + AdamW step).

- ``llara_step``: what llara's trainer does per batch: encode the prompts (tokenise, pad), embed
  and inject the projected behaviour embeddings, ``model(batch)`` (answer-token loss with
  ``logits_to_keep``), backward, AdamW step.
- ``bare_step``: the PEFT model alone on precomputed, detached ``inputs_embeds`` (computed once
  by ``model.input_embeddings``) with the same ``logits_to_keep`` and the same cross-entropy over
  the answer positions. The embeddings are a leaf that requires grad, so the backward reaches the
  first layer as llara's does for its projector (and the adapter-free variant still has one).
  ``adapters=False`` runs it under ``model.llm.disable_adapter()``: the base weights alone, as
  with merged LoRA weights (the floor of a LoRA step).

Both run under ``torch.autocast("cpu", bfloat16)`` when the precision is ``bf16-mixed`` (what
llara's ``precision: auto`` gives on CPUs with native bf16), else in fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import torch

from llara_core.model.batching import IGNORE, TokenBatch


def autocast(precision: str):
    if "bf16" in precision:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def optimizer(model) -> torch.optim.Optimizer:
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)


def answer_span(batch: TokenBatch) -> tuple[int, int]:
    """``(first labelled column, logits_to_keep)`` exactly as ``LLaRA.forward`` computes them."""
    first = int((batch.labels != IGNORE).any(0).nonzero()[0])
    return first, batch.labels.shape[1] - first + 1


def bare_loss(model, batch: TokenBatch, embeds: torch.Tensor) -> torch.Tensor:
    first, keep = answer_span(batch)
    out = model.llm(
        inputs_embeds=embeds,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
        logits_to_keep=keep,
    )
    logits = out.logits[:, :-1].float()
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.labels[:, first:].reshape(-1), ignore_index=IGNORE)


def llara_step(model, prompts: Sequence, opt: torch.optim.Optimizer, precision: str) -> Callable[[], float]:
    def step() -> float:
        batch = model.encode(prompts, with_answers=True)
        with autocast(precision):
            loss = model(batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


def bare_step(model, batch: TokenBatch, embeds: torch.Tensor, opt: torch.optim.Optimizer, precision: str, adapters: bool = True) -> Callable[[], float]:
    embeds = embeds.detach()

    def step() -> float:
        leaf = embeds.clone().requires_grad_(True)
        with contextlib.ExitStack() as stack:
            if not adapters:
                stack.enter_context(model.llm.disable_adapter())
            with autocast(precision):
                loss = bare_loss(model, batch, leaf)
            loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    return step


@torch.no_grad()
def check_same_loss(model, prompts: Sequence) -> TokenBatch:
    """Assert that the bare loss on the precomputed embeddings equals llara's loss, and (LoRA at
    init, B = 0) that the adapter-free loss equals it too; returns the batch. Eval mode, fp32."""
    was = model.training
    model.eval()
    try:
        batch = model.encode(prompts, with_answers=True)
        embeds = model.input_embeddings(batch)
        llara = float(model(batch))
        bare = float(bare_loss(model, batch, embeds))
        assert abs(llara - bare) <= 1e-5 * max(1.0, abs(llara)), f"llara loss {llara} != bare loss {bare}"
        if all(float(p.abs().max()) == 0 for n, p in model.llm.named_parameters() if "lora_B" in n):
            with model.llm.disable_adapter():
                off = float(bare_loss(model, batch, embeds))
            assert abs(off - bare) <= 1e-5 * max(1.0, abs(bare)), f"adapter-free loss {off} != {bare} at LoRA init"
        return batch
    finally:
        model.train(was)


def first_rows(batch: TokenBatch, embeds: torch.Tensor, n: int) -> tuple[TokenBatch, torch.Tensor]:
    """The first ``n`` rows of a batch and its embeddings (cheap warm-up calls of the bare step;
    ``item_ids`` are dropped: the bare step does not use them)."""
    lengths = None if batch.prompt_lengths is None else batch.prompt_lengths[:n]
    part = TokenBatch(batch.input_ids[:n], batch.attention_mask[:n], batch.position_ids[:n], batch.item_ids[:0], batch.labels[:n], lengths)
    return part, embeds[:n]
