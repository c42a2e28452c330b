"""The listwise and lm+listwise objectives: value and gradients equal a naive computation with
one full forward pass per (prompt, candidate); lm+listwise's lm term equals LLaRA's LM loss."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from llara_core.interfaces import PromptMode, PromptSample
from llara_core.model.compose import build_llara
from llara_core.model.objectives import CandidateBatch
from tests.llara_world import with_active_adapters, world_config

SAMPLES = [
    PromptSample((1, 2, 3), (4, 5, 6, 7, 8, 9), 6),
    PromptSample((10,), (11, 12, 13, 14, 15, 16), 11),
    PromptSample((20, 21, 22, 23), (30, 31, 32, 33, 34, 35), 35),
]


def naive_log_likelihood(model, prompt, title):
    """Sum of the answer tokens' log-probabilities from one ordinary forward pass (with grad)."""
    batch = model.encode([replace(prompt, target=title)], with_answers=True)
    logits = model.llm(inputs_embeds=model.input_embeddings(batch), attention_mask=batch.attention_mask, position_ids=batch.position_ids).logits[0, :-1].float()
    logits = logits.masked_fill(torch.arange(logits.shape[-1]) == model.placeholder_id, float("-inf"))
    logp = torch.log_softmax(logits, -1)
    labels = batch.labels[0, 1:]
    keep = labels != -100
    return logp[keep].gather(1, labels[keep][:, None]).sum(), int(keep.sum())


def naive_loss(model, prompts, titles, targets, objective, length_normalise):
    ce, lm_sum, lm_n = [], 0.0, 0
    for p, group, t in zip(prompts, titles, targets):
        pairs = [naive_log_likelihood(model, p, x) for x in group]
        s = torch.stack([ll / (n if length_normalise else 1) for ll, n in pairs])
        ce.append(torch.logsumexp(s, 0) - s[t])
        lm_sum = lm_sum - pairs[t][0]
        lm_n += pairs[t][1]
    loss = torch.stack(ce).mean()
    return loss + lm_sum / lm_n if objective == "lm+listwise" else loss


def _grads(model):
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}


@pytest.mark.parametrize("backbone", ["tiny-random-llama", "tiny-random-gpt2"])
@pytest.mark.parametrize(("objective", "length_normalise"), [("listwise", True), ("listwise", False), ("lm+listwise", True)])
def test_listwise_gradients_equal_a_naive_per_candidate_computation(llara_world, backbone, objective, length_normalise):
    model = with_active_adapters(build_llara(world_config(llara_world, backbone=backbone)))
    model.train()
    for m in model.modules():  # dropout off: both computations must see the same network
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    prompts = model.build_prompts(SAMPLES, PromptMode.HYBRID)
    titles = [[model.prompt_builder.title(c) for c in s.candidates] for s in SAMPLES]
    targets = [list(s.candidates).index(s.target) for s in SAMPLES]
    fast = model(CandidateBatch.for_objective(objective, prompts, titles, targets, length_normalise=length_normalise))
    fast.backward()
    g_fast = _grads(model)
    model.zero_grad(set_to_none=True)
    slow = naive_loss(model, prompts, titles, targets, objective, length_normalise)
    slow.backward()
    g_slow = _grads(model)
    assert float(fast) == pytest.approx(float(slow), abs=1e-5)
    assert g_fast.keys() == g_slow.keys() and any(k.startswith("projector") for k in g_fast)
    for name in g_fast:
        assert torch.allclose(g_fast[name], g_slow[name], atol=1e-5, rtol=1e-4), name


def test_lm_term_equals_the_answer_token_loss(llara_world):
    model = with_active_adapters(build_llara(world_config(llara_world))).eval()
    prompts = model.build_prompts(SAMPLES, PromptMode.HYBRID)
    titles = [[model.prompt_builder.title(c) for c in s.candidates] for s in SAMPLES]
    targets = [list(s.candidates).index(s.target) for s in SAMPLES]
    both = CandidateBatch.for_objective("lm+listwise", prompts, titles, targets)
    only_list = CandidateBatch.for_objective("listwise", prompts, titles, targets)
    with torch.no_grad():
        lm_term = float(model(both)) - float(model(only_list))
        lm_loss = float(model(model.encode(prompts, with_answers=True)))
        pairs = [naive_log_likelihood(model, p, g[t]) for p, g, t in zip(prompts, titles, targets)]
    assert lm_term == pytest.approx(-sum(float(ll) for ll, _ in pairs) / sum(n for _, n in pairs), abs=1e-5)
    # LLaRA's LM loss keeps the placeholder token in its softmax (~1/vocab of the mass in a random model)
    assert lm_term == pytest.approx(lm_loss, abs=1e-2)
    assert both.n_tokens > sum(len(model.prompt_tokenizer.prompt_ids(p.text)) for p in prompts)
