"""Small shims over transformers API differences (the KV-cache argument was renamed in 5.x)."""

from __future__ import annotations

import functools
import inspect
from typing import Any


@functools.cache
def _cache_arg(forward_cls: type) -> str:
    params = inspect.signature(forward_cls.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def cache_kwargs(llm: Any, cache: Any) -> dict[str, Any]:
    """``{<name of the KV-cache argument>: cache}`` for ``llm`` (a PEFT wrapper or a HF model)."""
    base = llm.get_base_model() if hasattr(llm, "get_base_model") else llm
    return {_cache_arg(type(base)): cache}


def output_cache(out: Any) -> Any:
    """The KV cache returned by a forward pass with ``use_cache=True``."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values
