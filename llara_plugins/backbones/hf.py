"""Any Hugging Face causal LM: a hub id, a local folder, or a GGUF file in a folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
    ``identity["cache"]`` names the cache folder. A folder or a hub id is pinned by
    :func:`folder_identity` (of the folder, or of the hub id's snapshot in the local Hugging Face
    cache, with its commit as ``identity["revision"]``: :func:`hub_identity`).
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
        located = folder_identity(Path(model_id))
    tokenizer, model = _from_pretrained(source, params, label, **extra, **kwargs)
    if not located:
        located = hub_identity(model_id, kwargs.get("revision"))
    identity = {"model": model_id, "class": type(model).__name__, **located}
    return finish_backbone(model, tokenizer, params, identity)


#: weight files of a transformers model folder (sharded or not, safetensors or PyTorch)
WEIGHT_SUFFIXES = (".safetensors", ".bin")


def folder_identity(folder: Path) -> dict[str, Any]:
    """What pins a model folder: ``weights``, the name / size / sha256 of every weight file
    (``*.safetensors``, ``*.bin``) in name order, and ``config``, that of ``config.json``."""
    weights = [file_fingerprint(p) for p in sorted(folder.iterdir()) if p.suffix in WEIGHT_SUFFIXES and p.is_file()]
    identity: dict[str, Any] = {"weights": weights}
    if (folder / "config.json").is_file():
        identity["config"] = file_fingerprint(folder / "config.json")
    return identity


def hub_identity(model_id: str, revision: str | None) -> dict[str, Any]:
    """What pins a hub model loaded from the local Hugging Face cache: ``revision``, the commit
    its ``revision`` (default ``main``) resolves to there, and :func:`folder_identity` of that
    snapshot; ``{}`` when the cache holds no snapshot of it."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model_id, "config.json", revision=revision)
    if not isinstance(found, str):
        return {}
    snapshot = Path(found).parent
    return {"revision": snapshot.name, **folder_identity(snapshot)}


def _from_pretrained(source: str, params: BackboneOptions, label: str, **kwargs) -> tuple:
    """(tokenizer, model) from a hub id or folder; transformers' load errors become LlaraError."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=DTYPES[params.dtype], attn_implementation=params.attn_implementation, **kwargs
        )
    except (OSError, ValueError, KeyError) as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        hint = "" if Path(source).is_dir() else " (no network? give a local folder, or set local_files_only: true with a cached model)"
        raise LlaraError(f"backbone {label}: cannot load: {first}{hint}") from exc
    return tokenizer, model


#: a Hugging Face hub id: ``name`` or ``owner/name``
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def _path_like(model: str) -> bool:
    return model.startswith((".", "/", "~")) or "\\" in model or model.count("/") > 1 or (len(model) > 1 and model[1] == ":")


def check_model_source(model: str, gguf_file: str | None) -> None:
    """``backbone.params.model`` must be an existing model folder (with ``config.json``, or
    holding ``gguf_file``) or a hub id; anything else is one LlaraError saying which it is not."""
    field = "backbone.params.model"
    path = Path(model).expanduser()
    if gguf_file is not None:
        if Path(gguf_file).name != gguf_file or gguf_file in ("", ".", ".."):
            raise LlaraError(f"backbone.params.gguf_file: {gguf_file!r} must be a file name inside the folder {model!r}, not a path")
        if not path.is_dir():
            raise LlaraError(f"{field}: {model!r} is not a folder (resolved: {path.resolve()}); with gguf_file it must be the folder holding {gguf_file}")
        if not (path / gguf_file).is_file():
            found = sorted(p.name for p in path.glob("*.gguf"))
            raise LlaraError(f"backbone.params.gguf_file: {path / gguf_file} not found" + (f" (the folder holds {', '.join(found)})" if found else ""))
        return
    if path.is_file():
        if path.suffix.lower() == ".gguf":
            raise LlaraError(f"{field}: {model!r} is a GGUF file; give its folder as model and its name as gguf_file "
                             f"(model: {str(path.parent)!r}, gguf_file: {path.name!r})")
        raise LlaraError(f"{field}: {model!r} is a file; expected a model folder (with config.json), a folder with a GGUF file "
                         "(and gguf_file), a hub id (owner/name), or a preset backbone name (smollm2-135m, tiny-random-llama, ...)")
    if path.is_dir():
        if not (path / "config.json").is_file():
            ggufs = sorted(p.name for p in path.glob("*.gguf"))
            if ggufs:
                raise LlaraError(f"{field}: {model!r} holds no config.json but GGUF file(s) {', '.join(ggufs)}; set gguf_file: {ggufs[0]!r}")
            raise LlaraError(f"{field}: {model!r} is a folder without config.json: not a transformers model folder "
                             "(expected the files of `save_pretrained`, or a GGUF file with gguf_file)")
        return
    if _path_like(model):
        raise LlaraError(f"{field}: local folder {model!r} not found (resolved: {path.resolve()})")
    if not HUB_ID.match(model):
        raise LlaraError(f"{field}: {model!r} is neither an existing folder nor a hub id of the form owner/name")


class HFBackbone(BackboneLoader):
    """A causal LM through transformers' AutoModelForCausalLM (hub id, folder or GGUF)."""

    Params = HFParams

    def load(self) -> Backbone:
        p = self.params
        # remote code runs only when the config asks for it (trust_remote_code: true)
        kwargs = {"revision": p.revision, "local_files_only": p.local_files_only, "trust_remote_code": p.trust_remote_code is True}
        check_model_source(p.model, p.gguf_file)
        model = str(Path(p.model).expanduser()) if Path(p.model).expanduser().exists() else p.model
        return load_hf(model, p, p.gguf_file, gguf_cache=p.gguf_cache, **kwargs)
