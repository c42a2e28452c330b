"""Finishing steps for backbone loaders (used by every backbone plugin); the options every
loader accepts are ``llara_core.interfaces.backbone.BackboneOptions`` (re-exported here)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from llara_core.errors import LlaraError
from llara_core.interfaces.backbone import Backbone, BackboneOptions

__all__ = ["DTYPES", "BackboneOptions", "enable_gradient_checkpointing", "file_fingerprint", "finish_backbone", "state_fingerprint"]

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def finish_backbone(model: Any, tokenizer: Any, options: BackboneOptions, identity: dict[str, Any]) -> Backbone:
    """Set the pad token, dtype and gradient checkpointing; return the :class:`Backbone` with the
    prompt-formatting options (chat template or not, system prompt) taken from ``options``.

    The pad token: the tokenizer's own if set, else EOS (labels never depend on the pad id:
    llara builds labels from token spans, and attention masks hide padding).
    """
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise LlaraError(
                f"backbone {identity.get('model')!r}: its tokenizer has neither a pad token nor an EOS token; "
                "llara pads batches with the pad token (or EOS): give the tokenizer a pad_token "
                "(tokenizer.add_special_tokens({'pad_token': '<pad>'}) and save it) or use another backbone"
            )
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(DTYPES[options.dtype])
    if options.gradient_checkpointing is True:
        enable_gradient_checkpointing(model)
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if options.use_chat_template and not has_template:
        raise LlaraError("backbone.params.use_chat_template is true but the tokenizer has no chat template")
    chat = has_template if options.use_chat_template is None else options.use_chat_template
    return Backbone(
        model=model,
        tokenizer=tokenizer,
        identity=identity,
        use_chat_template=chat,
        system_prompt=options.system_prompt,
        gradient_checkpointing=options.gradient_checkpointing,
    )


def enable_gradient_checkpointing(model: Any) -> None:
    """Non-reentrant activation checkpointing of every decoder layer (a PEFT wrapper or HF model)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    base.config.use_cache = False


def file_fingerprint(path: str | Path, full_hash_limit: int = 2 << 30) -> dict[str, Any]:
    """Name, size and sha256 of a weights file (sha256 skipped above ``full_hash_limit`` bytes)."""
    path = Path(path)
    info: dict[str, Any] = {"file": path.name, "bytes": path.stat().st_size}
    if info["bytes"] <= full_hash_limit:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
        info["sha256"] = h.hexdigest()
    return info


def state_fingerprint(model: torch.nn.Module) -> str:
    """sha256 over a model's parameter bytes (for weights built in memory)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    return h.hexdigest()
