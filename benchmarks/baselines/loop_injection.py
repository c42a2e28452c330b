"""The reference's behaviour injection: a Python loop over samples and placeholder tokens."""

from __future__ import annotations

import torch


def loop_injection(embeds: torch.Tensor, ids: torch.Tensor, placeholder_id: int, behaviour: torch.Tensor) -> torch.Tensor:
    """Copy of ``embeds`` whose placeholder positions hold the rows of ``behaviour`` in
    row-major order, written one sample and one token at a time (as LLaRA's code does)."""
    out = embeds.clone()
    k = 0
    for b in range(ids.shape[0]):
        for idx in (ids[b] == placeholder_id).nonzero().view(-1):
            out[b, idx] = behaviour[k]
            k += 1
    return out
