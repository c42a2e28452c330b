"""Behaviour-token injection: projected item embeddings replace placeholder token embeddings."""

from __future__ import annotations

import torch

from llara_core.errors import LlaraError


def inject_behaviour(
    inputs_embeds: torch.Tensor,
    input_ids: torch.Tensor,
    placeholder_id: int,
    behaviour: torch.Tensor,
) -> torch.Tensor:
    """Replace every placeholder position with the next row of ``behaviour``, for the whole batch
    in one vectorised operation.

    Args:
        inputs_embeds: ``(B, T, H)`` token embeddings.
        input_ids: ``(B, T)`` token ids; positions equal to ``placeholder_id`` are replaced.
        behaviour: ``(M, H)`` projected embeddings, M = number of placeholders in the batch,
            ordered row-major (sample 0's placeholders left to right, then sample 1's, ...).

    Returns a new ``(B, T, H)`` tensor; gradients flow to ``behaviour`` (and to the untouched
    positions of ``inputs_embeds``), never to the placeholder's own embedding row.
    """
    mask = input_ids == placeholder_id
    n = int(mask.sum())
    if n != behaviour.shape[0]:
        raise LlaraError(
            f"behaviour injection: {n} placeholder tokens in the batch but {behaviour.shape[0]} item "
            "embeddings (a title containing the placeholder text, or a truncated prompt?)"
        )
    if n == 0:
        return inputs_embeds
    return inputs_embeds.masked_scatter(mask.unsqueeze(-1), behaviour.to(inputs_embeds.dtype))
