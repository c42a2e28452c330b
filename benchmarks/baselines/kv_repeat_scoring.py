"""Baseline for the benchmarks: llara's scorer before the one-pass design (kept verbatim, only
renamed). Each prompt is encoded once and its KV cache repeated for the N candidates, which are
scored in one batched pass; the cache is copied N times (and again on append).

Likelihood scoring of candidates with a shared prompt prefix.

For each prompt, the score of candidate c is ``sum_t log p(answer_c[t] | prompt, answer_c[:t])``
(optionally divided by the answer length), where ``answer_c`` is the candidate's title formatted
as an answer (title + terminator). Each prompt is encoded once; its KV cache is repeated for
the N candidates, which are scored in one batched pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from llara_core.interfaces import Prompt
from llara_core.model.batching import positions_from_mask
from llara_core.model.compat import cache_kwargs, output_cache

if TYPE_CHECKING:
    from llara_core.model.llara import LLaRA


def _answers(model: LLaRA, titles: Sequence[Sequence[str]], device) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B*N, La)`` right-padded answer ids and their mask."""
    rows = [model.prompt_tokenizer.answer_ids(t) for group in titles for t in group]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), model.prompt_tokenizer.pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids.to(device), mask.to(device)


def _log_probs(model: LLaRA, logits: torch.Tensor) -> torch.Tensor:
    """Log-softmax over the real vocabulary (placeholder tokens can never be answers)."""
    logits = logits.float()
    logits[..., model.placeholder_id] = float("-inf")
    return torch.log_softmax(logits, dim=-1)


@torch.no_grad()
def score_chunk(model: LLaRA, prompts: Sequence[Prompt], titles: Sequence[Sequence[str]], length_normalise: bool = False) -> np.ndarray:
    """``(B, N)`` scores for B prompts with N candidate titles each (same N for all)."""
    n = len(titles[0])
    if any(len(t) != n for t in titles):
        raise ValueError("score_chunk needs the same number of candidates for every prompt")
    llm = model.llm
    batch = model.encode(prompts, with_answers=False)
    out = llm(
        inputs_embeds=model.input_embeddings(batch),
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=True,
    )
    cache = output_cache(out)
    first_logp = _log_probs(model, out.logits[:, -1]).repeat_interleave(n, dim=0)  # (B*N, V)
    ans, ans_mask = _answers(model, titles, batch.input_ids.device)
    cache.batch_repeat_interleave(n)
    prefix_mask = batch.attention_mask.repeat_interleave(n, dim=0)
    prefix_len = batch.attention_mask.sum(1).repeat_interleave(n)
    pos = positions_from_mask(ans_mask, offset=prefix_len)
    out2 = llm(
        input_ids=ans,
        attention_mask=torch.cat([prefix_mask, ans_mask], dim=1),
        position_ids=pos,
        use_cache=True,
        **cache_kwargs(llm, cache),
    )
    logp = first_logp.gather(1, ans[:, :1]).squeeze(1)
    if ans.shape[1] > 1:
        rest = _log_probs(model, out2.logits[:, :-1]).gather(2, ans[:, 1:, None]).squeeze(2)
        logp = logp + (rest * ans_mask[:, 1:]).sum(1)
    if length_normalise:
        logp = logp / ans_mask.sum(1)
    return logp.view(len(prompts), n).cpu().numpy()


def score_prompts(
    model: LLaRA,
    prompts: Sequence[Prompt],
    titles: Sequence[Sequence[str]],
    length_normalise: bool = False,
    batch_size: int = 8,
) -> list[np.ndarray]:
    """Scores of every prompt's candidates, ``batch_size`` prompts per prefix pass."""
    was_training = model.training
    model.eval()
    try:
        out: list[np.ndarray] = []
        for s in range(0, len(prompts), batch_size):
            out.extend(score_chunk(model, prompts[s : s + batch_size], titles[s : s + batch_size], length_normalise))
        return out
    finally:
        model.train(was_training)
