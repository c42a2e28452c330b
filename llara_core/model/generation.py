"""Greedy generation of answers for a batch of prompts: left padding, KV cache, stop at newline.

Prompts are left-padded with explicit positions, so an answer does not depend on the batch it was
generated in. The prompt pass projects only its last position onto the vocabulary. Decoding
stops per row at the first token whose text contains a newline (or EOS), and for the batch as
soon as every row stopped, or after ``max_new_tokens``. Called through ``LLaRA.generate``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

from llara_core.interfaces import Prompt
from llara_core.model.compat import cache_kwargs, output_cache

if TYPE_CHECKING:
    from llara_core.model.llara import LLaRA


@functools.lru_cache(maxsize=8)
def _newline_ids(tokenizer: Any) -> frozenset[int]:
    """Token ids whose decoded text contains a newline (computed once per tokenizer)."""
    ids = range(len(tokenizer))
    texts = tokenizer.batch_decode([[i] for i in ids])
    return frozenset(i for i, t in zip(ids, texts) if "\n" in t)


@torch.no_grad()
def generate_chunk(model: LLaRA, prompts: Sequence[Prompt], max_new_tokens: int = 64) -> list[str]:
    """Greedy answers of ``prompts`` (text before the first newline, stripped)."""
    llm, tok = model.llm, model.tokenizer
    batch = model.encode(prompts, with_answers=False)
    mask = batch.attention_mask
    out = llm(inputs_embeds=model.input_embeddings(batch), attention_mask=mask, position_ids=batch.position_ids, use_cache=True, logits_to_keep=1)
    cache, logits = output_cache(out), out.logits[:, -1]
    position = mask.sum(1, keepdim=True)
    limit = model.prompt_tokenizer.max_length  # the backbone's context: no position beyond it
    stop_ids = torch.tensor(sorted(_newline_ids(tok) | {tok.eos_token_id}), device=mask.device)
    done = torch.zeros(len(prompts), dtype=torch.bool, device=mask.device)
    generated: list[list[int]] = [[] for _ in prompts]
    for step in range(max_new_tokens):
        logits = logits.float()
        logits[:, model.placeholder_id] = float("-inf")
        nxt = logits.argmax(-1)
        for b in (~done).nonzero().flatten().tolist():
            generated[b].append(int(nxt[b]))
        done |= torch.isin(nxt, stop_ids)
        if limit is not None:  # a row whose next position would leave the context stops here
            done |= position[:, 0] >= limit
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        nxt = torch.where(done, torch.full_like(nxt, model.prompt_tokenizer.pad_id), nxt)
        mask = torch.cat([mask, (~done).long()[:, None]], dim=1)
        feed = position if limit is None else position.clamp(max=limit - 1)  # stopped rows are masked anyway
        out = llm(input_ids=nxt[:, None], attention_mask=mask, position_ids=feed, use_cache=True, **cache_kwargs(llm, cache))
        cache, logits = output_cache(out), out.logits[:, -1]
        position = position + 1
    texts = tok.batch_decode(generated, skip_special_tokens=True)
    return [t.split("\n", 1)[0].strip() for t in texts]


def generate_answers(model: LLaRA, prompts: Sequence[Prompt], max_new_tokens: int = 64, batch_size: int = 8) -> list[str]:
    was_training = model.training
    model.eval()
    try:
        out: list[str] = []
        for s in range(0, len(prompts), batch_size):
            out.extend(generate_chunk(model, prompts[s : s + batch_size], max_new_tokens))
        return out
    finally:
        model.train(was_training)
