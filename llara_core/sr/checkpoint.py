"""Item encoder checkpoints: a folder with ``model.safetensors`` and ``config.json``.

``config.json`` = ``{"component": registered name, "params": hyper-parameters, "n_items": int,
"data_hash": dataset content hash or null, "dataset": name or null, "distribution": ...,
"version": ..., **extra}`` where ``extra`` carries training info and metrics. Loading rebuilds the
encoder by name through :data:`llara_core.slots.ITEM_ENCODERS` (never by importing a plugin) and
loads the weights strictly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

from llara_core.config.validate import ITEM_ENCODER_CONFIG, read_item_encoder_checkpoint
from llara_core.errors import LlaraError
from llara_core.fileio import atomic_write_json, read_safetensors, save_safetensors
from llara_core.interfaces import ItemEncoder
from llara_core.slots import ITEM_ENCODERS

WEIGHTS = "model.safetensors"
CHECKPOINT_FORMAT = "llara-item-encoder"


def save_item_encoder(
    encoder: ItemEncoder,
    name: str,
    folder: str | Path,
    *,
    data_hash: str | None = None,
    dataset: str | None = None,
    **extra: Any,
) -> Path:
    """Write ``encoder`` (registered as ``name``) to ``folder``; returns the folder.

    ``extra`` keys (JSON-serialisable: training settings, metrics, source) are stored beside
    the required ones.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    provider = ITEM_ENCODERS.provider(name)
    state = {k: v.detach().contiguous().cpu() for k, v in encoder.state_dict().items()}
    save_safetensors(state, folder / WEIGHTS, metadata={"format": CHECKPOINT_FORMAT, "component": name})
    config = {
        "format": CHECKPOINT_FORMAT,
        "component": name,
        "params": encoder.hyperparameters(),
        "n_items": int(encoder.n_items),
        "data_hash": data_hash,
        "dataset": dataset,
        "distribution": provider.distribution,
        "version": provider.version,
        **extra,
    }
    atomic_write_json(folder / ITEM_ENCODER_CONFIG, config)
    return folder


def load_state_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """``module.load_state_dict(state)`` with one clear LlaraError naming every missing,
    unexpected and mis-shaped tensor."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [
        f"{k} {tuple(state[k].shape)} (expected {tuple(own[k].shape)})"
        for k in sorted(set(own) & set(state))
        if state[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected)}")
    if shapes:
        problems.append(f"wrong shape {', '.join(shapes)}")
    if problems:
        raise LlaraError(f"{source}: weights do not fit {type(module).__name__}: {'; '.join(problems)}")
    module.load_state_dict(state, strict=True)


def load_item_encoder(folder: str | Path, map_location: str = "cpu") -> tuple[ItemEncoder, dict[str, Any]]:
    """The encoder saved in ``folder`` (eval mode) and its config dict."""
    folder = Path(folder)
    config = read_item_encoder_checkpoint(folder)
    cfg_path = folder / ITEM_ENCODER_CONFIG
    name, n_items = config.get("component"), config.get("n_items")
    if not isinstance(name, str):
        raise LlaraError(f"{cfg_path}: field 'component' must be a registered item encoder name")
    if not isinstance(n_items, int) or n_items < 1:
        raise LlaraError(f"{cfg_path}: field 'n_items' must be a positive integer, got {n_items!r}")
    try:
        encoder = ITEM_ENCODERS.build(name, config.get("params") or {}, n_items=n_items)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise LlaraError(f"{cfg_path}: params.{where}: {first['msg']}") from exc
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise LlaraError(f"{weights}: not found (expected the weights beside {ITEM_ENCODER_CONFIG})")
    state = read_safetensors(weights, "item encoder weights", device=map_location)
    load_state_strict(encoder, state, str(weights))
    return encoder.eval(), config
