"""A user cache of de-quantised GGUF backbones, each a plain transformers model folder.

De-quantising a GGUF file with transformers costs 20-200 s on every load; the cache does it once
per GGUF file. An entry is ``<cache root>/backbones/<sha256 of the GGUF file>/``: safetensors
weights (float32, what de-quantisation gives), ``config.json``, the generation config and the
tokenizer files, all written by ``save_pretrained``, plus the manifest ``llara-cache.json``
(written last) with the size and sha256 of every other file, the GGUF file's fingerprint, the
transformers version and the dtype. An entry is written into a temporary sibling folder and
renamed into place, so a reader sees a complete entry or none. A load verifies the manifest and
every listed file (size and sha256); a broken entry is reported by one warning, deleted and
rebuilt from the GGUF file.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from llara_core.errors import LlaraError
from llara_core.model.backbone_setup import file_fingerprint

CACHE_ENV = "LLARA_CACHE_DIR"
MANIFEST = "llara-cache.json"
FORMAT = 1
DTYPE = "float32"
STALE_TMP_S = 3600  # temporary folders older than this are leftovers of killed writers


def cache_root() -> Path:
    """``$LLARA_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/llara``, else ``~/.cache/llara``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser().absolute()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser().absolute() / "llara"
    return Path.home() / ".cache" / "llara"


def entry_folder(gguf_sha256: str) -> Path:
    """Where the entry of the GGUF file with this content hash lives (it may not exist)."""
    return cache_root() / "backbones" / gguf_sha256


def gguf_model_folder(gguf_path: str | Path, **hf_kwargs: Any) -> tuple[Path, dict[str, Any]]:
    """The verified cache entry of ``gguf_path`` and the GGUF file's name/size/sha256.

    Builds the entry from the GGUF file (``hf_kwargs`` go to ``from_pretrained``) when it is
    absent; warns once, deletes and rebuilds it when it fails verification. Raises
    :class:`LlaraError` when the GGUF file is missing or the cache folder cannot be written.
    """
    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise LlaraError(f"GGUF file {gguf_path} not found")
    gguf = file_fingerprint(gguf_path, full_hash_limit=sys.maxsize)
    folder = entry_folder(gguf["sha256"])
    if folder.exists():
        problem = verify_entry(folder, gguf)
        if problem is None:
            return folder, gguf
        warnings.warn(
            f"backbone cache entry {folder}: {problem}; deleting it and rebuilding it from {gguf_path}",
            stacklevel=2,
        )
        discard(folder)
    build_entry(gguf_path, folder, gguf, **hf_kwargs)
    return folder, gguf


def verify_entry(folder: Path, gguf: dict[str, Any]) -> str | None:
    """``None`` when ``folder`` is a complete entry for the GGUF content ``gguf`` (a fingerprint;
    its file name may differ) written by this transformers version; else what is wrong, briefly."""
    import transformers

    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        return f"no {MANIFEST} manifest (an interrupted or foreign write)"
    except (OSError, ValueError) as exc:
        return f"unreadable {MANIFEST}: {exc}"
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        return f"{MANIFEST} has no file list"
    if not any(name.endswith(".safetensors") for name in manifest["files"]):
        return f"{MANIFEST} lists no .safetensors weights"
    source = manifest.get("gguf") if isinstance(manifest.get("gguf"), dict) else {}
    expected = {
        "format": (manifest.get("format"), FORMAT),
        "GGUF sha256": (source.get("sha256"), gguf["sha256"]),
        "GGUF size": (source.get("bytes"), gguf["bytes"]),
        "transformers version": (manifest.get("transformers"), transformers.__version__),
        "dtype": (manifest.get("dtype"), DTYPE),
    }
    for what, (found, wanted) in expected.items():
        if found != wanted:
            return f"{MANIFEST} lists {what} {found!r}, expected {wanted!r}"
    for name, listed in manifest["files"].items():
        problem = _file_problem(folder / name, listed)
        if problem:
            return f"{name} {problem}"
    return None


def _file_problem(path: Path, listed: Any) -> str | None:
    """What is wrong with one listed file, or ``None``: it must have the listed size and sha256."""
    if not path.is_file():
        return "is missing"
    if not isinstance(listed, dict) or "bytes" not in listed or "sha256" not in listed:
        return f"has a malformed {MANIFEST} record"
    size = path.stat().st_size
    if size != listed["bytes"]:
        return f"has {size} bytes, the manifest lists {listed['bytes']} (truncated or partial)"
    if _sha256(path) != listed["sha256"]:
        return "does not match its sha256 in the manifest (corrupted)"
    return None


def build_entry(gguf_path: Path, folder: Path, gguf: dict[str, Any], **hf_kwargs: Any) -> None:
    """De-quantise ``gguf_path`` and write its entry atomically as ``folder``.

    If another process put an entry there first, that one is kept (after verification) and ours
    is removed.
    """
    tmp = _make_tmp(folder)
    try:
        model, tokenizer = dequantise(gguf_path, **hf_kwargs)
        try:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            write_manifest(tmp, gguf)
        except OSError as exc:
            raise LlaraError(f"cannot write the backbone cache entry {folder}: {exc}") from exc
        _place(tmp, folder, gguf)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def dequantise(gguf_path: Path, **hf_kwargs: Any) -> tuple[Any, Any]:
    """Model (dense float32, not marked quantized, so ``save_pretrained`` accepts it) and tokenizer
    read from a GGUF file by transformers: the slow step the cache exists to skip."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, kwargs = str(gguf_path.parent), {"gguf_file": gguf_path.name, **hf_kwargs}
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(
            folder, dtype=torch.float32, **_dense_gguf_option(), **kwargs
        )
    except (OSError, ValueError) as exc:
        raise LlaraError(f"GGUF file {gguf_path}: cannot load: {exc}") from exc
    if getattr(model, "is_quantized", False):
        raise LlaraError(
            f"GGUF file {gguf_path}: transformers kept its weights quantized; "
            "set backbone.params.gguf_cache: false"
        )
    return model, tokenizer


def _dense_gguf_option() -> dict[str, Any]:
    """``quantization_config`` asking transformers (>= the versions with ``GgufConfig``) for dense
    weights with no quantizer attached; older versions always de-quantise and need nothing."""
    try:
        from transformers import GgufConfig
    except ImportError:
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def write_manifest(folder: Path, gguf: dict[str, Any]) -> None:
    """Write ``llara-cache.json`` listing every file now in ``folder`` (call it last)."""
    import transformers

    files = {
        p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {"format": FORMAT, "gguf": gguf, "transformers": transformers.__version__, "dtype": DTYPE, "files": files}
    with open(folder / MANIFEST, "w") as fh:
        json.dump(manifest, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def discard(folder: Path) -> None:
    """Remove an entry: renamed aside first, so its key path is free at once for a rebuild."""
    trash = folder.with_name(f".trash-{folder.name}-{secrets.token_hex(4)}")
    try:
        folder.rename(trash)
    except FileNotFoundError:  # another process discarded it already
        return
    shutil.rmtree(trash, ignore_errors=True)


def _make_tmp(folder: Path) -> Path:
    """A fresh temporary sibling of ``folder`` (stale ones of killed writers are removed)."""
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for old in parent.glob(f".tmp-{folder.name}-*"):
            if time.time() - old.stat().st_mtime > STALE_TMP_S:
                shutil.rmtree(old, ignore_errors=True)
        tmp = parent / f".tmp-{folder.name}-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
    except OSError as exc:
        raise LlaraError(
            f"cannot write the backbone cache {parent}: {exc} (set {CACHE_ENV} or backbone.params.gguf_cache: false)"
        ) from exc
    return tmp


def _place(tmp: Path, folder: Path, gguf: dict[str, Any]) -> None:
    """Rename ``tmp`` to ``folder``; if another process won the race, keep its entry."""
    try:
        tmp.rename(folder)
        return
    except OSError as exc:
        if not folder.is_dir():
            raise LlaraError(f"cannot write the backbone cache entry {folder}: {exc}") from exc
    problem = verify_entry(folder, gguf)
    if problem is not None:
        raise LlaraError(f"backbone cache entry {folder} was written concurrently and is broken: {problem}")


def _sha256(path: Path) -> str:
    """sha256 of a file, streamed in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()
