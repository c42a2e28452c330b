"""Generation as LLaRA's reference code evaluates: right-padded prompt batches, transformers'
``generate`` on ``inputs_embeds``, always ``max_new_tokens`` new tokens (``min_new_tokens`` too:
the reference cuts the answer at the newline only afterwards).

Right padding puts pad tokens between a short prompt and its answer, so answers depend on the
batch (a defect llara's left-padded generation fixes); it is reproduced here because it is what
the reference computes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from llara_core.interfaces import Prompt
from llara_core.model.injection import inject_behaviour


def right_padded(model, prompts: Sequence[Prompt]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask, item_ids)`` of the prompts, right-padded."""
    tok = model.prompt_tokenizer
    rows = [tok.checked_prompt_ids(p, i) for i, p in enumerate(prompts)]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    items = torch.tensor([i for p in prompts for i in p.item_ids], dtype=torch.long)
    return ids.to(model.device), mask.to(model.device), items.to(model.device)


@torch.no_grad()
def generate_chunk(model, prompts: Sequence[Prompt], max_new_tokens: int = 64) -> torch.Tensor:
    """``(B, max_new_tokens)`` greedy new token ids of one right-padded batch."""
    ids, mask, items = right_padded(model, prompts)
    embeds = model.llm.get_input_embeddings()(ids)
    if items.numel():
        embeds = inject_behaviour(embeds, ids, model.placeholder_id, model.behaviour_embeddings(items))
    return model.llm.generate(
        inputs_embeds=embeds,
        attention_mask=mask,
        max_new_tokens=max_new_tokens,
        min_new_tokens=max_new_tokens,
        do_sample=False,
        pad_token_id=model.prompt_tokenizer.pad_id,
    )


def reference_generate(model, prompts: Sequence[Prompt], max_new_tokens: int = 64, batch_size: int = 8) -> list[torch.Tensor]:
    """New token ids of every prompt (``max_new_tokens`` each), ``batch_size`` prompts per batch."""
    was_training = model.training
    model.eval()
    try:
        out: list[torch.Tensor] = []
        for s in range(0, len(prompts), batch_size):
            out.extend(generate_chunk(model, prompts[s : s + batch_size], max_new_tokens))
        return out
    finally:
        model.train(was_training)
