"""Does the model read the behaviour tokens? Give every sample another user's behaviour tokens.

``swap_behaviour(prompts, samples, seed)`` keeps each prompt's text (its titles) and replaces the
items whose embeddings fill its placeholders with another sample's: the donor is a seeded
derangement of the samples (nobody keeps their own), history items are matched from the most
recent backwards (a shorter donor history is cycled), candidates by display position. A model
that ignores the behaviour tokens scores the same; one that reads them loses what they carried.
Called by :func:`llara_core.evaluation.engine.evaluate` (``swap_behaviour=True``,
``llara evaluate --swap-behaviour``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from llara_core.interfaces.prompt_builder import Prompt, PromptSample


def donors(n: int, seed: int) -> list[int]:
    """A seeded derangement of ``range(n)`` (``donors[i] != i``; identity when ``n < 2``)."""
    if n < 2:
        return list(range(n))
    order = np.random.default_rng([seed, 0x5A4B]).permutation(n)
    # a random cyclic order: each sample takes the next one's tokens, so nobody keeps their own
    out = [0] * n
    for k in range(n):
        out[int(order[k])] = int(order[(k + 1) % n])
    return out


def behaviour_map(own: PromptSample, donor: PromptSample) -> dict[int, int]:
    """Item -> the donor item whose behaviour embedding replaces it."""
    mapping: dict[int, int] = {}
    hist, dhist = list(own.history), list(donor.history)
    for k in range(1, len(hist) + 1):
        if dhist:
            mapping.setdefault(hist[-k], dhist[-1 - (k - 1) % len(dhist)])
    for mine, theirs in zip(own.candidates, donor.candidates):
        mapping.setdefault(mine, theirs)
    return mapping


def swap_behaviour(prompts: Sequence[Prompt], samples: Sequence[PromptSample], seed: int) -> list[Prompt]:
    """``prompts`` (built from ``samples``, same order) with another sample's behaviour items."""
    if len(prompts) != len(samples):
        raise ValueError(f"{len(prompts)} prompts for {len(samples)} samples")
    out = []
    for i, d in enumerate(donors(len(samples), seed)):
        mapping = behaviour_map(samples[i], samples[d])
        out.append(dataclasses.replace(prompts[i], item_ids=tuple(mapping.get(item, item) for item in prompts[i].item_ids)))
    return out
