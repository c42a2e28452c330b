"""The floor of candidate scoring: one forward pass of each prompt alone, no answers.

One prompt per forward (batch 1, so no padding), behaviour tokens injected as llara does, the
vocabulary projection only at the last position (``logits_to_keep=1``). Any scorer must at
least read the prompt once; this is that cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from llara_core.interfaces import Prompt


@torch.no_grad()
def prompt_forward(model, prompts: Sequence[Prompt]) -> list[torch.Tensor]:
    """Last-position logits ``(V,)`` of every prompt (eval mode is the caller's business)."""
    out = []
    for p in prompts:
        batch = model.encode([p], with_answers=False)
        res = model.llm(
            inputs_embeds=model.input_embeddings(batch),
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            use_cache=False,
            logits_to_keep=1,
        )
        out.append(res.logits[0, -1])
    return out
