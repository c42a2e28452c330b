"""Import LLaRA's released SASRec weights (a plain safetensors state dict) as a ``sasrec`` checkpoint.

The file holds the reference module's tensors (``item_embeddings.weight`` of shape
``(n_items + 1, dim)`` with the padding row last, ``positional_embeddings.weight`` of shape
``(history_len, dim)``, ..., ``s_fc`` of shape ``(n_items, dim)``) and optional string metadata
(``item_num``, ``hidden_size``, ``state_size``, ``num_heads``, ``dropout``). Shapes decide; the
metadata must agree with them. Nothing is unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from llara_core.data.hashing import sha256_file
from llara_core.errors import LlaraError
from llara_core.slots import ITEM_ENCODERS
from llara_core.sr.checkpoint import load_state_strict, save_item_encoder

COMPONENT = "sasrec"
REQUIRED = ("item_embeddings.weight", "positional_embeddings.weight", "s_fc.weight")


def read_llara_sasrec(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, str]]:
    """(state dict, sasrec params, raw metadata) of a LLaRA SASRec safetensors file."""
    path = Path(path)
    if not path.is_file():
        raise LlaraError(f"{path}: not found")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = dict(fh.metadata() or {})
            state = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError) as exc:
        raise LlaraError(
            f"{path}: not a safetensors file ({exc}); LLaRA's pickled modules must be converted to a "
            "state dict in safetensors first"
        ) from exc
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise LlaraError(f"{path}: not a SASRec state dict (missing {', '.join(missing)})")
    rows, dim = state["item_embeddings.weight"].shape
    n_items = rows - 1
    history_len = state["positional_embeddings.weight"].shape[0]
    if tuple(state["s_fc.weight"].shape) != (n_items, dim):
        raise LlaraError(
            f"{path}: s_fc.weight has shape {tuple(state['s_fc.weight'].shape)}, expected "
            f"({n_items}, {dim}) from item_embeddings.weight {(rows, dim)}"
        )
    for key, value in (("item_num", n_items), ("hidden_size", dim), ("state_size", history_len)):
        if key in meta and meta[key].strip() != str(value):
            raise LlaraError(f"{path}: metadata {key}={meta[key]!r} disagrees with the tensor shapes ({value})")
    try:
        params = {
            "dim": int(dim),
            "history_len": int(history_len),
            "num_heads": int(meta.get("num_heads", 1)),
            "dropout": float(meta.get("dropout", 0.1)),
        }
    except ValueError as exc:
        raise LlaraError(f"{path}: metadata num_heads/dropout is not a number ({exc})") from exc
    return state, params, meta


def import_llara_sasrec(path: str | Path, out_dir: str | Path, dataset: str | None = None) -> Path:
    """Write LLaRA's SASRec ``path`` as a llara item encoder folder ``out_dir``; returns it."""
    path = Path(path)
    state, params, meta = read_llara_sasrec(path)
    n_items = state["item_embeddings.weight"].shape[0] - 1
    encoder = ITEM_ENCODERS.build(COMPONENT, params, n_items=n_items)
    load_state_strict(encoder, state, str(path))
    return save_item_encoder(
        encoder.eval(),
        COMPONENT,
        out_dir,
        data_hash=None,
        dataset=dataset,
        source={"kind": "llara-sasrec", "file": path.name, "sha256": sha256_file(path), "metadata": meta},
    )
