"""Special tokens for behaviour placeholders: added once, embeddings resized only when needed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from llara_core.errors import ComponentInterfaceError


def add_special_tokens(tokenizer: Any, model: Any, tokens: Sequence[str]) -> dict[str, int]:
    """Make each of ``tokens`` one unsplittable token; grow the embedding matrix only if the
    tokenizer now has more ids than the model has rows. Returns token -> id.

    The new rows are never read as inputs (placeholders are always replaced by projected
    behaviour embeddings), and generation suppresses them as outputs. Each token absorbs the
    whitespace before it (``lstrip``): in "Title [ItemEmb]" the space would otherwise become a
    token of its own, ~30 wasted tokens per hybrid prompt.
    """
    from tokenizers import AddedToken

    vocab = tokenizer.get_vocab()
    new = [t for t in tokens if t not in vocab]
    if new:
        added = [AddedToken(t, lstrip=True, rstrip=False, single_word=False, normalized=False, special=True) for t in new]
        tokenizer.add_special_tokens({"additional_special_tokens": added}, replace_extra_special_tokens=False)
    rows = model.get_input_embeddings().weight.shape[0]
    if len(tokenizer) > rows:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
        with torch.no_grad():  # deterministic new rows: the mean of the old ones
            for emb in {id(m): m for m in (model.get_input_embeddings(), model.get_output_embeddings()) if m is not None}.values():
                emb.weight[rows:] = emb.weight[:rows].mean(0, keepdim=True)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in tokens}
    for t, i in ids.items():
        if tokenizer.convert_ids_to_tokens(i) != t:
            raise ComponentInterfaceError(f"the backbone's tokenizer did not register {t!r} as a single token")
    return ids
