"""Candidate log-likelihoods in one forward pass per prompt (the model's own scorer).

The score of candidate c for a prompt is ``sum_t log p(answer_c[t] | prompt, answer_c[:t])``
(optionally divided by the answer's token count), where ``answer_c`` is c's title formatted as
the answer (title + terminator). The prompt and all its answers share one sequence under a 4D
attention mask (:mod:`llara_core.model.candidate_packing`): the prompt is computed once, no KV
cache is copied, and the vocabulary projection runs only where an answer token is predicted.
Answers are split over several rows when prompt + answers exceed ``max_tokens`` (so ranking
a whole catalogue stays within memory; the prompt is then recomputed once per row).

Used by evaluation, validation and ``LLaRA.recommend`` (through ``LLaRA.score_candidates``) and,
with gradients, by the listwise training objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from llara_core.errors import LlaraError
from llara_core.interfaces import Prompt
from llara_core.model.candidate_packing import (
    PackedRows,
    attention_mask_4d,
    build_rows,
    plan_passes,
)
from llara_core.model.injection import inject_behaviour

if TYPE_CHECKING:
    from llara_core.model.llara import LLaRA

#: attention implementations that take a custom 4D mask
MASK_4D_IMPLEMENTATIONS = ("sdpa", "eager")
DEFAULT_MAX_TOKENS = 2048


def attention_implementation(llm) -> str:
    config = getattr(llm, "config", None)
    return str(getattr(config, "_attn_implementation", None) or "eager")


def mask_for(llm, segments: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The packed rows' 4D mask in the form the backbone's attention takes: bool for SDPA,
    additive (0 / dtype min) for eager attention. Other kernels cannot take one: LlaraError."""
    impl = attention_implementation(llm)
    if impl not in MASK_4D_IMPLEMENTATIONS:
        raise LlaraError(
            f"candidate scoring packs answers under a custom 4D attention mask, which the backbone's "
            f"attention implementation {impl!r} does not take; set backbone.params.attn_implementation "
            f"to one of {', '.join(MASK_4D_IMPLEMENTATIONS)}"
        )
    allowed = attention_mask_4d(segments)
    if impl == "sdpa":
        return allowed
    return torch.zeros(allowed.shape, dtype=dtype, device=segments.device).masked_fill(~allowed, torch.finfo(dtype).min)


def _forward_rows(model: LLaRA, rows: PackedRows, item_ids: torch.Tensor) -> torch.Tensor:
    """``(E,)`` log-probabilities of the gathered answer tokens of ``rows``."""
    llm = model.llm
    embeds = llm.get_input_embeddings()(rows.input_ids)
    if item_ids.numel():
        embeds = inject_behaviour(embeds, rows.input_ids, model.placeholder_id, model.behaviour_embeddings(item_ids))
    out = llm(
        inputs_embeds=embeds,
        attention_mask=mask_for(llm, rows.segments, embeds.dtype),
        position_ids=rows.position_ids,
        use_cache=False,
        logits_to_keep=rows.keep,
    )
    logits = out.logits.reshape(-1, out.logits.shape[-1]).float()
    logits[:, model.placeholder_id] = float("-inf")  # a placeholder is never an answer token
    lse = torch.logsumexp(logits, dim=-1)
    return logits[rows.gather_pos, rows.gather_token] - lse[rows.gather_pos]


def candidate_log_likelihoods(
    model: LLaRA,
    prompts: Sequence[Prompt],
    titles: Sequence[Sequence[str]],
    length_normalise: bool = False,
    rows_per_pass: int = 1,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
    stats: dict[str, int] | None = None,
) -> list[torch.Tensor]:
    """Per prompt, a ``(N_i,)`` tensor of its candidates' scores, differentiable when grad is
    enabled (the caller chooses train/eval mode and ``torch.no_grad``).

    ``rows_per_pass`` packed rows go through the model together (1 = one prompt per forward).
    ``stats``, when given, receives ``tokens``: the real (unpadded) tokens computed.
    """
    if len(prompts) != len(titles):
        raise LlaraError(f"{len(prompts)} prompts but {len(titles)} candidate title lists")
    if any(len(t) == 0 for t in titles):
        raise LlaraError("every prompt needs at least one candidate title to score")
    tok = model.prompt_tokenizer
    prompt_ids = [tok.checked_prompt_ids(p, i) for i, p in enumerate(prompts)]
    answers = [[tok.answer_ids(t) for t in group] for group in titles]
    if tok.max_length is not None:  # each answer's positions continue after its prompt
        for i, (ids, group) in enumerate(zip(prompt_ids, answers)):
            longest = max(len(a) for a in group)
            if len(ids) + longest > tok.max_length:
                raise LlaraError(
                    f"prompt {i}: {len(ids)} prompt tokens plus {longest} for its longest candidate answer exceed the "
                    f"backbone's context of {tok.max_length}; build prompts with LLaRA.build_prompts (it drops the "
                    "oldest history items to fit) or shorten them"
                )
    plan, offsets = plan_passes(prompt_ids, answers, max_tokens)
    total = offsets[-1] + len(answers[-1])
    device = model.device
    scores = torch.zeros(total, dtype=torch.float32, device=device)
    pieces = []
    for s in range(0, len(plan), rows_per_pass):
        chunk = plan[s : s + rows_per_pass]
        rows = build_rows(prompt_ids, answers, chunk, offsets, tok.pad_id).to(device)
        items = torch.tensor([i for p, _ in chunk for i in prompts[p].item_ids], dtype=torch.long, device=device)
        pieces.append((rows.gather_candidate, _forward_rows(model, rows, items)))
        if stats is not None:
            stats["tokens"] = stats.get("tokens", 0) + rows.n_tokens
    for cand, logp in pieces:
        scores = scores.index_add(0, cand, logp)
    if length_normalise:
        lengths = torch.tensor([len(a) for group in answers for a in group], dtype=torch.float32, device=device)
        scores = scores / lengths
    return [scores[o : o + len(g)] for o, g in zip(offsets, answers)]


class ScoreRequest:
    """Prompts and candidate titles to score through ``LLaRA.forward`` (so that a strategy's
    wrapper — FSDP's parameter gathering, for one — applies); a plain class, not a dataclass, so
    precision plugins leave it alone. ``forward`` returns :func:`candidate_log_likelihoods`."""

    def __init__(self, prompts: Sequence[Prompt], titles: Sequence[Sequence[str]], length_normalise: bool = False):
        self.prompts, self.titles, self.length_normalise = list(prompts), [list(t) for t in titles], length_normalise


@torch.no_grad()
def score_candidates(
    model: LLaRA,
    prompts: Sequence[Prompt],
    titles: Sequence[Sequence[str]],
    length_normalise: bool = False,
    rows_per_pass: int = 1,
    max_tokens: int | None = DEFAULT_MAX_TOKENS,
) -> list[np.ndarray]:
    """Inference scores (eval mode, no gradients) of every prompt's candidates."""
    was_training = model.training
    model.eval()
    try:
        out = candidate_log_likelihoods(model, prompts, titles, length_normalise, rows_per_pass, max_tokens)
        return [t.cpu().numpy() for t in out]
    finally:
        model.train(was_training)
