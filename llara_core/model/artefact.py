"""A trained LLaRA as a self-contained, verified folder (``LLaRA.save_pretrained`` / ``from_pretrained``).

Layout (every file's sha256 is recorded in ``llara.json``)::

    llara.json            format + version, the validated experiment config, each component's
                          name / distribution / version, the backbone's identity (preset or hub id
                          + revision, or folder / GGUF + content hash), the catalogue hash, tuning,
                          file hashes
    titles.json           the catalogue: item id -> title, and its domain
    item_encoder/         a copy of the frozen item encoder (model.safetensors + config.json)
    projector.safetensors the projector's weights
    adapter/              the LoRA adapters as a standard PEFT adapter folder
                          (adapter_config.json + adapter_model.safetensors): plain
                          ``peft.PeftModel.from_pretrained(backbone, folder / "adapter")`` loads it
    llm.safetensors       instead of adapter/ when the whole backbone was tuned (tuning: full)
    backbone/             a merged, self-contained backbone (``llara export --merged`` only)

``from_pretrained`` rebuilds every part through the registries and verifies every hash: a file
that changed, a backbone other than the recorded one (:func:`backbone_difference`: the weights'
hash of a built-in random backbone, the sha256 of each weight file and ``config.json`` of a
folder, GGUF or cached hub snapshot, the hub commit), or a catalogue other than the one trained
on is a one-line :class:`ArtefactMismatchError` naming what differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from llara_core.errors import LlaraError
from llara_core.fileio import (
    atomic_write_json,
    fsync_tree,
    read_json,
    read_safetensors,
    save_safetensors,
)

if TYPE_CHECKING:
    from llara_core.model.llara import LLaRA

MANIFEST = "llara.json"
FORMAT = "llara-model"
FORMAT_VERSION = 1
TITLES = "titles.json"
ENCODER_DIR = "item_encoder"
PROJECTOR = "projector.safetensors"
ADAPTER_DIR = "adapter"
FULL_LLM = "llm.safetensors"
MERGED_DIR = "backbone"
LEGACY_TRAINABLE = "trainable.safetensors"


class ArtefactMismatchError(LlaraError):
    """A saved model does not match what it is loaded with (files, backbone, catalogue, encoder)."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def catalogue_hash(titles: list[str]) -> str:
    """sha256 of the item count and every title in id order."""
    return hashlib.sha256(json.dumps([len(titles), list(titles)], ensure_ascii=False).encode()).hexdigest()


def is_artefact(folder: str | Path) -> bool:
    return (Path(folder) / MANIFEST).is_file()


def _write_json_atomic(path: Path, data: Any) -> None:
    atomic_write_json(path, data)


def _components(cfg: Any) -> dict[str, Any]:
    from llara_core.config import resolved_config

    resolved = resolved_config(cfg)
    keep = ("name", "params", "implementation", "distribution", "version")
    return {k: {f: v.get(f) for f in keep} for k, v in resolved.items() if isinstance(v, dict) and "distribution" in v}


# ---------------------------------------------------------------------- weights
def adapter_state(model: LLaRA) -> dict[str, torch.Tensor]:
    from peft import get_peft_model_state_dict

    return {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(model.llm, save_embedding_layers=False).items()}


def write_weights(model: LLaRA, folder: Path) -> dict[str, str]:
    """The trained tensors of ``model`` into ``folder``; returns {relative file: role}."""
    files: dict[str, str] = {}
    if model.projector is not None:
        save_safetensors({k: v.detach().cpu().contiguous() for k, v in model.projector.state_dict().items()}, folder / PROJECTOR)
        files[PROJECTOR] = "projector"
    if model.tuning == "lora":
        model.llm.save_pretrained(str(folder / ADAPTER_DIR), save_embedding_layers=False)
        for name in sorted(os.listdir(folder / ADAPTER_DIR)):
            files[f"{ADAPTER_DIR}/{name}"] = "adapter"
    elif model.tuning == "full":  # named parameters: tied embeddings are saved once
        save_safetensors({n: p.detach().cpu().contiguous() for n, p in model.llm.named_parameters()}, folder / FULL_LLM)
        files[FULL_LLM] = "llm"
    return files


def read_weights(model: LLaRA, folder: Path) -> None:
    """Load what :func:`write_weights` wrote (strictly: every tensor present, shapes equal)."""
    from llara_core.sr.checkpoint import load_state_strict

    if model.projector is not None:
        load_state_strict(model.projector, read_safetensors(folder / PROJECTOR, "projector weights"), str(folder / PROJECTOR))
    if model.tuning == "lora":
        from peft.utils import set_peft_model_state_dict

        path = folder / ADAPTER_DIR / "adapter_model.safetensors"
        state = read_safetensors(path, "LoRA adapter weights")
        expected = set(adapter_state(model))
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ArtefactMismatchError(f"{path}: adapter tensors do not fit this model (missing {missing[:3]}, unexpected {extra[:3]})")
        result = set_peft_model_state_dict(model.llm, state)
        if getattr(result, "unexpected_keys", None):
            raise ArtefactMismatchError(f"{path}: unexpected adapter tensors {result.unexpected_keys[:3]}")
    elif model.tuning == "full":
        path = folder / FULL_LLM
        state = read_safetensors(path, "tuned backbone weights")
        params = dict(model.llm.named_parameters())
        if set(state) != set(params) or any(state[k].shape != params[k].shape for k in params):
            raise ArtefactMismatchError(f"{path}: the tuned backbone weights do not fit this backbone")
        with torch.no_grad():
            for k, p in params.items():
                p.copy_(state[k].to(p.dtype))


# ---------------------------------------------------------------------- save
def save_pretrained(model: LLaRA, folder: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Write ``model`` as an artefact into ``folder`` (created; existing model files replaced)."""
    from llara_core import __version__
    from llara_core.sr.checkpoint import save_item_encoder

    cfg = getattr(model, "config", None)
    if cfg is None:
        raise LlaraError("save_pretrained needs a model built from a config (LLaRA.from_config or a run)")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (ADAPTER_DIR, ENCODER_DIR):
        shutil.rmtree(folder / stale, ignore_errors=True)
    files = write_weights(model, folder)
    _write_json_atomic(folder / TITLES, {"domain": getattr(model, "domain", "item"), "titles": list(model.titles)})
    files[TITLES] = "catalogue"
    encoder = None
    if model.item_encoder is not None:
        name = model.item_encoder_name
        save_item_encoder(model.item_encoder, name, folder / ENCODER_DIR, **model.item_encoder_meta)
        files.update({f"{ENCODER_DIR}/{n}": "item_encoder" for n in sorted(os.listdir(folder / ENCODER_DIR))})
        encoder = {"component": name, "sha256": sha256_file(folder / ENCODER_DIR / "model.safetensors"),
                   "source": str(cfg.item_encoder.checkpoint) if cfg.item_encoder.checkpoint else None,
                   "source_sha256": model.item_encoder_meta.get("source_sha256")}
    for rel, role in (extra_files or {}).items():
        files[rel] = role
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "llara_version": __version__,
        "config": cfg.model_dump(mode="json"),
        "components": _components(cfg),
        "backbone": model.backbone_identity,
        "tuning": model.tuning,
        "catalogue": {"n_items": len(model.titles), "sha256": catalogue_hash(model.titles)},
        "item_encoder": encoder,
        "prompt": {"placeholder": model.prompt_builder.placeholder, "chat_template": model.prompt_tokenizer.use_chat_template,
                   "system_prompt": model.prompt_tokenizer.system_prompt},
        "files": {rel: {"role": role, "sha256": sha256_file(folder / rel)} for rel, role in sorted(files.items())},
    }
    fsync_tree(folder)  # every file durable before the manifest that vouches for them
    _write_json_atomic(folder / MANIFEST, manifest)
    return folder


# ---------------------------------------------------------------------- load
def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    manifest = read_json(path, "a llara model manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise LlaraError(f"{path}: not a llara model (format {manifest.get('format') if isinstance(manifest, dict) else None!r})")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise LlaraError(f"{path}: format version {manifest['format_version']} is newer than this llara reads ({FORMAT_VERSION}); upgrade llara")
    return manifest


def verify_files(folder: Path, manifest: dict[str, Any]) -> None:
    """Every recorded file exists with its recorded sha256."""
    for rel, info in manifest["files"].items():
        path = folder / rel
        if not path.is_file():
            raise ArtefactMismatchError(f"{path}: missing (listed in {folder / MANIFEST})")
        digest = sha256_file(path)
        if digest != info["sha256"]:
            raise ArtefactMismatchError(f"{path}: sha256 {digest[:12]} differs from the recorded {info['sha256'][:12]} (the file changed after saving)")


#: identity entries that are one value each: key -> what it pins (checked in this order)
BACKBONE_VALUES = {"state_sha256": "weights", "vocab": "tokenizer vocabulary", "revision": "revision"}
#: identity entries that fingerprint files (one fingerprint or a list of them)
BACKBONE_FILES = ("weights", "config")


def _fingerprints(identity: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """file name -> fingerprint over the file entries of a backbone identity."""
    out: dict[str, dict[str, Any]] = {}
    for key in BACKBONE_FILES:
        entry = identity.get(key)
        for fp in entry if isinstance(entry, list) else [entry] if entry else []:
            out[fp["file"]] = fp
    return out


def _short(value: Any) -> str:
    return value[:12] if isinstance(value, str) and len(value) == 64 else repr(value)


def _file_state(fp: dict[str, Any] | None) -> str:
    if fp is None:
        return "no such file"
    return f"sha256 {fp['sha256'][:12]}" if "sha256" in fp else f"{fp['bytes']} bytes"


def backbone_difference(saved: dict[str, Any], loaded: dict[str, Any]) -> str | None:
    """What differs between the recorded backbone identity and the loaded one (one clause
    naming the entry or the file), or None. Only entries that ``saved`` records are compared,
    so an artefact saved before an entry existed still loads."""
    for key, what in BACKBONE_VALUES.items():
        if key in saved and saved[key] != loaded.get(key):
            return f"its {what} changed ({key} now {_short(loaded.get(key))}, trained with {_short(saved[key])})"
    if any(key in saved for key in BACKBONE_FILES):
        before, now = _fingerprints(saved), _fingerprints(loaded)
        for name in sorted(set(before) | set(now)):
            if before.get(name) != now.get(name):
                return f"its file {name} changed (now {_file_state(now.get(name))}, trained with {_file_state(before.get(name))})"
    return None


def verify_backbone(saved: dict[str, Any], loaded: dict[str, Any]) -> None:
    """Refuse a backbone other than the recorded one (:func:`backbone_difference`), in one line."""
    difference = backbone_difference(saved, loaded)
    if difference is not None:
        raise ArtefactMismatchError(f"backbone {saved.get('model')!r}: {difference}; load it with the backbone it was trained with")


def verify_catalogue(manifest: dict[str, Any], titles: list[str], source: str) -> None:
    digest = catalogue_hash(titles)
    if digest != manifest["catalogue"]["sha256"]:
        raise ArtefactMismatchError(
            f"{source}: its catalogue ({len(titles)} items, hash {digest[:12]}) is not the one this model was trained on "
            f"({manifest['catalogue']['n_items']} items, hash {manifest['catalogue']['sha256'][:12]})"
        )


def from_pretrained(folder: str | Path, backbone: Any = None) -> LLaRA:
    """The model saved in ``folder`` (eval mode), every part verified (see the module docstring).
    ``backbone``: an already loaded :class:`Backbone` to use instead of loading the recorded one."""
    from llara_core.config import validate_config
    from llara_core.model.compose import compose
    from llara_core.slots import BACKBONES
    from llara_core.sr.checkpoint import load_item_encoder

    folder = Path(folder)
    if not is_artefact(folder):
        return _from_legacy_checkpoint(folder)
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    cfg = validate_config(manifest["config"], source=str(folder / MANIFEST), check_paths=False)
    catalogue = read_json(folder / TITLES, "the model's catalogue")
    titles = catalogue["titles"]
    verify_catalogue(manifest, titles, str(folder / TITLES))
    encoder = None
    if manifest.get("item_encoder"):
        encoder, saved = load_item_encoder(folder / ENCODER_DIR)
        encoder.llara_source = (saved, None)
    if backbone is None:
        if (folder / MERGED_DIR).is_dir():
            backbone = BACKBONES.build("hf", {**_common_params(cfg), "model": str(folder / MERGED_DIR), "local_files_only": True}).load()
        else:
            backbone = BACKBONES.build(cfg.backbone.name, cfg.backbone.params).load()
            verify_backbone(manifest["backbone"], backbone.identity)
    model = compose(cfg, titles, catalogue.get("domain", "item"), encoder, backbone=backbone)
    model.catalogue_source = str(folder / TITLES)
    if encoder is not None:
        model.item_encoder_meta = {**model.item_encoder_meta, "source_sha256": manifest["item_encoder"].get("source_sha256")}
    read_weights(model, folder)
    model.artefact = {"folder": str(folder), "manifest": manifest}
    return model.eval()


def _common_params(cfg: Any) -> dict[str, Any]:
    keys = ("dtype", "attn_implementation", "use_chat_template", "system_prompt")
    return {k: v for k, v in cfg.backbone.params.items() if k in keys}


def _from_legacy_checkpoint(folder: Path) -> LLaRA:
    """A checkpoint folder of a run trained before artefacts (``trainable.safetensors`` beside the
    run's ``config.json`` one level up): loaded through the run config, with a warning."""
    from llara_core.model.compose import build_llara, read_run_config

    if not (folder / LEGACY_TRAINABLE).is_file():
        raise LlaraError(f"{folder}: not a llara model (no {MANIFEST}) nor an older run checkpoint (no {LEGACY_TRAINABLE})")
    cfg = read_run_config(folder.parent)
    warnings.warn(
        f"{folder} was saved before llara's model artefacts: its item encoder and backbone are rebuilt from the run "
        f"config without hash checks; `llara export {folder.parent} --out NEW` writes it as a verified artefact",
        stacklevel=3,
    )
    model = build_llara(cfg)
    model.load_trainable(folder)
    return model.eval()


# ---------------------------------------------------------------------- checks at use
def check_dataset(model: LLaRA, dataset: Any) -> None:
    """A dataset evaluated with a saved model must have the catalogue it was trained on."""
    manifest = (getattr(model, "artefact", None) or {}).get("manifest")
    if manifest is not None:
        verify_catalogue(manifest, list(dataset.titles), f"dataset {dataset.path or dataset.name}")


def check_encoder_source(model: LLaRA) -> None:
    """The item encoder folder the run was trained from must still hold that encoder (the model
    uses its own copy; a changed source means the run no longer matches the encoder folder the
    config names, e.g. after re-training it there)."""
    from llara_core.sr.checkpoint import WEIGHTS

    art = getattr(model, "artefact", None) or {}
    enc = (art.get("manifest") or {}).get("item_encoder") or {}
    source, recorded = enc.get("source"), enc.get("source_sha256")
    if not (source and recorded) or not (Path(source) / WEIGHTS).is_file():
        return
    now = sha256_file(Path(source) / WEIGHTS)
    if now != recorded:
        raise ArtefactMismatchError(
            f"item encoder: {source} now holds sha256 {now[:12]}, but this model was trained with sha256 {recorded[:12]} "
            f"(its copy is in {Path(art['folder']) / ENCODER_DIR}); pass --allow-encoder-mismatch to evaluate with that copy"
        )


def export_merged(model: LLaRA, out: str | Path) -> Path:
    """Adapters merged into the backbone (PEFT ``merge_and_unload``), saved with the projector,
    the item encoder and the catalogue as an artefact whose backbone is its own ``backbone/``
    folder (for serving: no PEFT, no base-model download)."""
    if model.tuning != "lora":
        raise LlaraError(f"--merged merges LoRA adapters; this model was tuned with {model.tuning!r} (export it without --merged)")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise LlaraError(f"{out}: exists and is not empty; choose a new folder")
    out.mkdir(parents=True, exist_ok=True)
    merged = model.llm.merge_and_unload()
    merged.save_pretrained(str(out / MERGED_DIR))
    model.tokenizer.save_pretrained(str(out / MERGED_DIR))
    cfg = model.config
    params = {k: v for k, v in cfg.backbone.params.items() if k in ("dtype", "attn_implementation", "use_chat_template", "system_prompt")}
    backbone = cfg.backbone.model_copy(update={"name": "hf", "params": {**params, "model": MERGED_DIR, "local_files_only": True}, "tuning": "freeze"})
    model.config = cfg.model_copy(update={"backbone": backbone})
    model.llm, model.tuning = merged, "freeze"
    files = {f"{MERGED_DIR}/{n}": "backbone" for n in sorted(os.listdir(out / MERGED_DIR))}
    model.backbone_identity = {**model.backbone_identity, "merged_into": MERGED_DIR}
    return save_pretrained(model, out, extra_files=files)
