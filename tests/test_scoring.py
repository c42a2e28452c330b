"""One-pass candidate scoring (prompt + all answers under a 4D mask) against a naive full
forward pass per (prompt, candidate), on both tiny families, both attention kernels, chunked
and grouped passes, ragged candidate lists, and the real SmolLM2 weights."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from llara_core.errors import LlaraError
from llara_core.interfaces import PromptMode, PromptSample
from llara_core.model.candidate_packing import attention_mask_4d, plan_passes
from llara_core.model.compose import build_llara
from llara_core.model.scoring import candidate_log_likelihoods, mask_for
from tests.llara_world import require_smollm2, with_active_adapters, world_config

SAMPLES = [
    PromptSample((1, 2, 3), (4, 5, 6, 7, 8, 9), 6),
    PromptSample((10,), (11, 12, 13, 14, 15, 16), 11),
    PromptSample((20, 21, 22, 23, 24, 25, 26, 27, 28, 29), (30, 31, 32, 33, 34, 35), 35),
    PromptSample((40, 41), (42, 43, 44, 45, 46, 47), 44),
]


def naive_scores(model, prompts, titles):
    """The reference: one full forward pass per (prompt, candidate) over prompt + answer, with the
    ordinary causal mask; log-softmax over the vocabulary without the placeholder token."""
    out = []
    for p, ts in zip(prompts, titles):
        row = []
        for t in ts:
            batch = model.encode([replace(p, target=t)], with_answers=True)
            with torch.no_grad():
                logits = model.llm(inputs_embeds=model.input_embeddings(batch), attention_mask=batch.attention_mask, position_ids=batch.position_ids).logits[0, :-1].float()
            logits[:, model.placeholder_id] = float("-inf")
            logp = torch.log_softmax(logits, -1)
            labels = batch.labels[0, 1:]
            keep = labels != -100
            row.append(float(logp[keep].gather(1, labels[keep][:, None]).sum()))
        out.append(np.array(row))
    return out


@pytest.fixture(scope="module", params=[("tiny-random-llama", "sdpa"), ("tiny-random-llama", "eager"), ("tiny-random-gpt2", "sdpa"), ("tiny-random-gpt2", "eager")], ids=lambda p: "-".join(p))
def model(request, llara_world):
    backbone, attn = request.param
    cfg = world_config(llara_world, backbone=backbone)
    cfg.backbone.params["attn_implementation"] = attn
    return with_active_adapters(build_llara(cfg)).eval()


def _inputs(model, samples, mode):
    prompts = model.build_prompts(samples, mode)
    titles = [[model.prompt_builder.title(c) for c in s.candidates] for s in samples]
    return prompts, titles


@pytest.mark.parametrize("mode", [PromptMode.TEXT, PromptMode.HYBRID, PromptMode.BEHAVIOUR])
def test_one_pass_scores_equal_a_full_forward_per_candidate(model, mode):
    prompts, titles = _inputs(model, SAMPLES, mode)
    fast = model.score_candidates(prompts, titles)
    for f, n in zip(fast, naive_scores(model, prompts, titles)):
        assert np.abs(f - n).max() < 1e-4
    assert np.ptp(np.concatenate(fast)) > 0.1  # the scores really differ between candidates


def test_chunked_and_grouped_passes_give_the_same_scores(model):
    prompts, titles = _inputs(model, SAMPLES, PromptMode.HYBRID)
    whole = model.score_candidates(prompts, titles)
    prompt_len = len(model.prompt_tokenizer.prompt_ids(prompts[2].text))
    chunked = model.score_candidates(prompts, titles, max_tokens=prompt_len + 12)  # several rows per prompt
    grouped = model.score_candidates(prompts, titles, rows_per_pass=3)
    for a, b, c in zip(whole, chunked, grouped):
        assert np.abs(a - b).max() < 1e-4 and np.abs(a - c).max() < 1e-4


def test_ragged_candidate_lists_and_length_normalisation(model):
    samples = [PromptSample((1, 2), (3, 4, 5), 4), PromptSample((6,), tuple(range(7, 17)), 9), PromptSample((2,), (8,), 8)]
    prompts, titles = _inputs(model, samples, PromptMode.HYBRID)
    total = model.score_candidates(prompts, titles)
    assert [len(t) for t in total] == [3, 10, 1]
    for f, n in zip(total, naive_scores(model, prompts, titles)):
        assert np.abs(f - n).max() < 1e-4
    mean = model.score_candidates(prompts, titles, length_normalise=True)
    for group, t, m in zip(titles, total, mean):
        lengths = np.array([len(model.prompt_tokenizer.answer_ids(x)) for x in group])
        assert np.allclose(t / lengths, m, atol=1e-5)


def test_scores_carry_gradients_to_lora_and_projector(llara_world):
    m = with_active_adapters(build_llara(world_config(llara_world))).train()
    prompts, titles = _inputs(m, SAMPLES[:2], PromptMode.HYBRID)
    scores = candidate_log_likelihoods(m, prompts, titles)
    torch.stack([s.logsumexp(0) - s[0] for s in scores]).sum().backward()
    grads = {n: p.grad for n, p in m.named_parameters() if p.requires_grad}
    assert all(g is not None and g.abs().sum() > 0 for n, g in grads.items() if "lora_B" in n or n.startswith("projector"))


def test_mask_pattern_prompt_causal_answers_private():
    seg = torch.tensor([[0, 0, 1, 1, 2, 2, -1]])
    m = attention_mask_4d(seg)[0, 0]
    assert m[1, :2].all() and not m[0, 1]  # causal prompt
    assert m[3, :4].all() and not m[3, 4:].any()  # answer 1 sees prompt + itself
    assert m[5, :2].all() and not m[5, 2:4].any() and m[5, 4:6].all()  # answer 2 never sees answer 1
    assert m[6].tolist() == [False] * 6 + [True]  # padding attends to itself only
    assert plan_passes([[1] * 5], [[[1] * 4] * 4], max_tokens=11)[0] == [(0, [0, 1]), (0, [2, 3])]


def test_attention_kernel_without_custom_masks_is_a_clear_error():
    class FakeLLM:
        class config:  # noqa: N801
            _attn_implementation = "flash_attention_2"

    with pytest.raises(LlaraError, match="flash_attention_2.*attn_implementation"):
        mask_for(FakeLLM(), torch.zeros(1, 3, dtype=torch.long), torch.float32)


def test_one_pass_equals_naive_on_real_smollm2_weights(tmp_path):
    require_smollm2()
    from llara_core.data.dataset import Dataset, Sample, Split
    from llara_core.slots import ITEM_ENCODERS
    from llara_core.sr.checkpoint import save_item_encoder

    titles = ["Radiohead", "Massive Attack", "Portishead", "Coldplay", "Madonna", "The Beatles", "Björk", "Daft Punk"]
    ds = Dataset("mini", "music", titles, {s: Split.from_samples(s, [Sample((0, 1), 2)]) for s in ("train", "val", "test")})
    ds.save(tmp_path / "data")
    torch.manual_seed(0)
    save_item_encoder(ITEM_ENCODERS.build("sasrec", {"dim": 16}, n_items=len(titles)), "sasrec", tmp_path / "enc", data_hash=ds.content_hash, dataset=ds.name)
    cfg = world_config({"data": tmp_path / "data", "sasrec": tmp_path / "enc"}, backbone="smollm2-135m", backbone_params={})
    model = with_active_adapters(build_llara(cfg), scale=0.01).eval()
    samples = [PromptSample((0, 1, 2), (3, 4, 5, 6, 7), 5), PromptSample((4,), (0, 1, 2, 3, 6, 7), 1)]
    for mode in (PromptMode.TEXT, PromptMode.HYBRID):
        prompts, cand_titles = _inputs(model, samples, mode)
        for f, n in zip(model.score_candidates(prompts, cand_titles), naive_scores(model, prompts, cand_titles)):
            assert np.abs(f - n).max() < 1e-4
