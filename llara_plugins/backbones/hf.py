"""Any Hugging Face causal LM: a hub id, a local folder, or a GGUF file in a folder."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from llara_core.errors import LlaraError
from llara_core.interfaces import Backbone, BackboneLoader
from llara_core.model.backbone_setup import (
    DTYPES,
    BackboneOptions,
    file_fingerprint,
    finish_backbone,
)


class HFParams(BackboneOptions):
    model: str = Field(description="hub id (needs network) or local folder")
    gguf_file: str | None = Field(None, description="GGUF file name inside `model` (de-quantised on load)")
    revision: str | None = None
    local_files_only: bool = Field(False, description="never touch the network")
    trust_remote_code: bool = False


def load_hf(model_id: str, params: BackboneOptions, gguf_file: str | None = None, **kwargs) -> Backbone:
    """Load tokenizer + causal LM with transformers' Auto classes and finish them."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    extra = {"gguf_file": gguf_file} if gguf_file else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_id, **extra, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            model_id,
            dtype=DTYPES[params.dtype],
            attn_implementation=params.attn_implementation,
            **extra,
            **kwargs,
        )
    except (OSError, ValueError) as exc:
        raise LlaraError(f"backbone {model_id!r}{f' ({gguf_file})' if gguf_file else ''}: cannot load: {exc}") from exc
    identity = {"model": model_id, "class": type(model).__name__}
    if gguf_file:
        identity["weights"] = file_fingerprint(Path(model_id) / gguf_file)
    elif Path(model_id).is_dir():
        identity["weights"] = [file_fingerprint(p) for p in sorted(Path(model_id).glob("*.safetensors"))]
    return finish_backbone(model, tokenizer, params, identity)


class HFBackbone(BackboneLoader):
    """A causal LM through transformers' AutoModelForCausalLM (hub id, folder or GGUF)."""

    Params = HFParams

    def load(self) -> Backbone:
        p = self.params
        kwargs = {"revision": p.revision, "local_files_only": p.local_files_only, "trust_remote_code": p.trust_remote_code}
        if p.gguf_file and not (Path(p.model) / p.gguf_file).is_file():
            raise LlaraError(f"backbone.params.gguf_file: {Path(p.model) / p.gguf_file} not found")
        return load_hf(p.model, p, p.gguf_file, **kwargs)
