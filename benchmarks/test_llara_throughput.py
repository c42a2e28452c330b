"""Throughput of LLaRA's hot paths on the CPU.

Run with ``pytest benchmarks/test_llara_throughput.py --benchmark-enable``. Compares the
vectorised behaviour injection with the reference's per-sample, per-token loop at SmolLM2's
hidden size, shared-prefix candidate scoring with one full forward pass per candidate, and
measures a training step of the tiny backbone.
"""

from __future__ import annotations

import pytest
import torch
from llara_core.evaluation.scoring import score_prompts

from llara_core.interfaces import PromptMode, PromptSample
from llara_core.model.compose import build_llara
from llara_core.model.injection import inject_behaviour
from tests.llara_world import world_config

B, T, H, PH = 8, 400, 576, 7


@pytest.fixture(scope="module")
def injection_batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 1000, (B, T), generator=g)
    for b in range(B):  # 30 behaviour tokens per sample (10 history + 20 candidates)
        ids[b, torch.randperm(T, generator=g)[:30]] = PH
    return torch.randn(B, T, H, generator=g), ids, torch.randn(B * 30, H, generator=g)


def loop_injection(embeds, ids, behaviour):
    out = embeds.clone()
    k = 0
    for b in range(ids.shape[0]):
        for idx in (ids[b] == PH).nonzero().view(-1):
            out[b, idx] = behaviour[k]
            k += 1
    return out


def _forward_backward(fn, embeds, ids, behaviour):
    behaviour = behaviour.detach().requires_grad_(True)
    fn(embeds, ids, behaviour).sum().backward()
    return behaviour.grad


def test_injection_vectorised(benchmark, injection_batch):
    embeds, ids, behaviour = injection_batch
    grad = benchmark(_forward_backward, lambda e, i, b: inject_behaviour(e, i, PH, b), embeds, ids, behaviour)
    assert torch.all(grad == 1)


def test_injection_reference_loop(benchmark, injection_batch):
    embeds, ids, behaviour = injection_batch
    grad = benchmark(_forward_backward, loop_injection, embeds, ids, behaviour)
    assert torch.all(grad == 1)
    assert torch.equal(loop_injection(*injection_batch), inject_behaviour(embeds, ids, PH, behaviour))


@pytest.fixture(scope="module")
def scoring_setup(llara_world):
    model = build_llara(world_config(llara_world)).eval()
    samples = [PromptSample(tuple(range(i, i + 10)), tuple(range(20 + i, 26 + i)), 21 + i) for i in range(8)]
    prompts = model.build_prompts(samples, PromptMode.HYBRID)
    titles = [[model.prompt_builder.title(c) for c in s.candidates] for s in samples]
    return model, prompts, titles


def test_scoring_shared_prefix(benchmark, scoring_setup):
    model, prompts, titles = scoring_setup
    benchmark(score_prompts, model, prompts, titles, False, 8)


def test_scoring_one_pass_per_candidate(benchmark, scoring_setup):
    from dataclasses import replace

    model, prompts, titles = scoring_setup

    def naive():
        with torch.no_grad():
            for p, ts in zip(prompts, titles):
                for t in ts:
                    batch = model.encode([replace(p, target=t)], with_answers=True)
                    model.llm(inputs_embeds=model.input_embeddings(batch), attention_mask=batch.attention_mask, position_ids=batch.position_ids)

    benchmark(naive)


def test_training_step_tiny_backbone(benchmark, llara_world):
    model = build_llara(world_config(llara_world)).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    samples = [PromptSample(tuple(range(i, i + 10)), tuple(range(20 + i, 26 + i)), 21 + i) for i in range(8)]
    batch = model.encode(model.build_prompts(samples, PromptMode.HYBRID), with_answers=True)

    def step():
        loss = model(batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    benchmark(step)
    benchmark.extra_info["tokens_per_step"] = batch.n_tokens
