"""Any Hugging Face causal LM: a hub id, a local folder, or a GGUF file in a folder."""

from __future__ import annotations

from pathlib import Path

from llara_core.errors import LlaraError
from llara_core.interfaces import Backbone, BackboneLoader
from llara_core.model import backbone_cache
from llara_core.model.backbone_setup import (
    DTYPES,
    BackboneOptions,
    file_fingerprint,
    finish_backbone,
)
from llara_plugins.backbones.params import HFParams


def load_hf(
    model_id: str,
    params: BackboneOptions,
    gguf_file: str | None = None,
    *,
    gguf_cache: bool = True,
    **kwargs,
) -> Backbone:
    """Load tokenizer + causal LM with transformers' Auto classes and finish them.

    With ``gguf_file`` (a file inside the folder ``model_id``) and ``gguf_cache``, the model is
    read from its de-quantised copy in the user cache (:mod:`llara_core.model.backbone_cache`),
    written on first use; ``identity["weights"]`` describes the GGUF file either way and
    ``identity["cache"]`` names the cache folder.
    """
    label = f"{model_id!r}" + (f" ({gguf_file})" if gguf_file else "")
    source, extra, located = model_id, ({"gguf_file": gguf_file} if gguf_file else {}), {}
    if gguf_file and gguf_cache:
        try:
            cache, weights = backbone_cache.gguf_model_folder(Path(model_id) / gguf_file, **kwargs)
        except LlaraError as exc:
            raise LlaraError(f"backbone {label}: {exc}") from exc
        source, extra, kwargs = str(cache), {}, {**kwargs, "local_files_only": True}
        located = {"weights": weights, "cache": str(cache)}
    elif gguf_file:
        located = {"weights": file_fingerprint(Path(model_id) / gguf_file)}
    elif Path(model_id).is_dir():
        located = {"weights": [file_fingerprint(p) for p in sorted(Path(model_id).glob("*.safetensors"))]}
    tokenizer, model = _from_pretrained(source, params, label, **extra, **kwargs)
    identity = {"model": model_id, "class": type(model).__name__, **located}
    return finish_backbone(model, tokenizer, params, identity)


def _from_pretrained(source: str, params: BackboneOptions, label: str, **kwargs) -> tuple:
    """(tokenizer, model) from a hub id or folder; transformers' load errors become LlaraError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=DTYPES[params.dtype], attn_implementation=params.attn_implementation, **kwargs
        )
    except (OSError, ValueError) as exc:
        raise LlaraError(f"backbone {label}: cannot load: {exc}") from exc
    return tokenizer, model


class HFBackbone(BackboneLoader):
    """A causal LM through transformers' AutoModelForCausalLM (hub id, folder or GGUF)."""

    Params = HFParams

    def load(self) -> Backbone:
        p = self.params
        kwargs = {"revision": p.revision, "local_files_only": p.local_files_only, "trust_remote_code": p.trust_remote_code}
        if p.gguf_file and not (Path(p.model) / p.gguf_file).is_file():
            raise LlaraError(f"backbone.params.gguf_file: {Path(p.model) / p.gguf_file} not found")
        return load_hf(p.model, p, p.gguf_file, gguf_cache=p.gguf_cache, **kwargs)
