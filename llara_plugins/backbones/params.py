"""Params models of the built-in backbone loaders, in a module without torch.

Declared in the entry-point group ``llara.backbones.params``; each loader class sets ``Params``
to its model here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from llara_core.interfaces.backbone import BackboneOptions


class TinyRandomParams(BackboneOptions):
    family: Literal["llama", "gpt2"] = "llama"
    hidden_size: int = Field(64, gt=0)
    num_layers: int = Field(2, gt=0)
    num_heads: int = Field(4, gt=0)
    intermediate_size: int = Field(128, gt=0)
    vocab_size: int = Field(512, ge=300, description="BPE vocabulary target (bytes + merges)")
    max_positions: int = Field(2048, gt=0)
    seed: int = 0
    tokenizer_corpus: list[Path] = Field(
        default_factory=list, description="extra UTF-8 text files to train the tokenizer on (e.g. item titles)"
    )


GGUF_CACHE_HELP = (
    "keep a de-quantised safetensors copy of the GGUF in the user cache (first load writes it, later loads read it)"
)


class HFParams(BackboneOptions):
    model: str = Field(description="hub id (needs network) or local folder")
    gguf_file: str | None = Field(None, description="GGUF file name inside `model` (de-quantised on load)")
    revision: str | None = None
    local_files_only: bool = Field(False, description="never touch the network")
    trust_remote_code: bool = False
    gguf_cache: bool = Field(True, description=GGUF_CACHE_HELP)


class SmolLM2Params(BackboneOptions):
    gguf_cache: bool = Field(True, description=GGUF_CACHE_HELP)
