"""Vectorised behaviour injection against a per-sample loop, and where gradients go."""

from __future__ import annotations

import pytest
import torch

from llara_core.errors import LlaraError
from llara_core.interfaces import PromptMode, PromptSample
from llara_core.model.compose import build_llara
from llara_core.model.injection import inject_behaviour
from tests.llara_world import world_config

PH = 7


def loop_reference(embeds, ids, behaviour):
    """The reference's per-sample, per-token loop, written plainly."""
    out = embeds.clone()
    k = 0
    for b in range(ids.shape[0]):
        for t in range(ids.shape[1]):
            if ids[b, t] == PH:
                out[b, t] = behaviour[k]
                k += 1
    return out


@pytest.mark.parametrize("seed", range(5))
def test_injection_equals_loop_on_ragged_padded_batches(seed):
    g = torch.Generator().manual_seed(seed)
    B, T, H = 5, 23, 6
    ids = torch.randint(10, 50, (B, T), generator=g)
    lengths = torch.randint(3, T + 1, (B,), generator=g)
    for b in range(B):
        ids[b, : T - lengths[b]] = 0  # left padding
        n = int(torch.randint(0, int(lengths[b]), (1,), generator=g))  # ragged item counts, some 0
        pos = torch.randperm(int(lengths[b]), generator=g)[:n] + (T - lengths[b])
        ids[b, pos] = PH
    embeds = torch.randn(B, T, H, generator=g)
    behaviour = torch.randn(int((ids == PH).sum()), H, generator=g)
    assert torch.equal(inject_behaviour(embeds, ids, PH, behaviour), loop_reference(embeds, ids, behaviour))


def test_injection_count_mismatch_is_a_clear_error():
    ids = torch.tensor([[1, PH, 2, PH]])
    with pytest.raises(LlaraError, match="2 placeholder tokens in the batch but 1 item"):
        inject_behaviour(torch.zeros(1, 4, 3), ids, PH, torch.zeros(1, 3))


def test_injection_gradients_reach_behaviour_not_placeholder_row():
    ids = torch.tensor([[1, PH, 2], [PH, PH, 3]])
    table = torch.nn.Embedding(10, 4)
    behaviour = torch.randn(3, 4, requires_grad=True)
    inject_behaviour(table(ids), ids, PH, behaviour).sum().backward()
    assert torch.all(behaviour.grad == 1)
    assert torch.all(table.weight.grad[PH] == 0)
    assert torch.all(table.weight.grad[1] == 1)


@pytest.fixture(scope="module")
def model(llara_world):
    return build_llara(world_config(llara_world))


def _grads_after(model, mode):
    model.zero_grad(set_to_none=True)
    samples = [PromptSample((1, 2, 3), (4, 5, 6, 7, 8, 9), 6), PromptSample((10,), (11, 12, 13, 14, 15, 16), 11)]
    batch = model.encode(model.build_prompts(samples, mode), with_answers=True)
    model(batch).backward()
    return [p.grad for p in model.projector.parameters()]


def test_projector_gets_gradients_only_in_hybrid_mode(model):
    assert all(g is None for g in _grads_after(model, PromptMode.TEXT))
    grads = _grads_after(model, PromptMode.HYBRID)
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in model.item_encoder.parameters())  # frozen encoder


def test_hybrid_batch_injects_one_embedding_per_item(model):
    samples = [PromptSample((1, 2), (4, 5, 6, 7, 8, 9), 6)]
    batch = model.encode(model.build_prompts(samples, PromptMode.HYBRID), with_answers=True)
    assert batch.item_ids.tolist() == [1, 2, 4, 5, 6, 7, 8, 9]
    embeds = model.input_embeddings(batch)
    rows = (batch.input_ids == model.placeholder_id).nonzero()
    expected = model.behaviour_embeddings(batch.item_ids)
    assert torch.allclose(embeds[rows[:, 0], rows[:, 1]], expected)
