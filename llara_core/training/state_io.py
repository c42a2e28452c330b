"""Checkpoint I/O without pickle: tensors as safetensors, everything else as JSON.

A checkpoint folder holds the recipe's trained tensors (for LLaRA ``trainable.safetensors``:
LoRA + projector; for an item encoder its weights), ``optimizer.safetensors`` + ``optimizer.json``, ``rng.safetensors``,
``trainer_state.json`` (step, epoch, position in the epoch, best metric, curriculum draw state,
scheduler, Python/NumPy RNG states).
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from llara_core.errors import LlaraError

TRAINER_STATE = "trainer_state.json"


def _optimizer_to_files(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, st in sd["state"].items():
        for key, value in st.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_from_files(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for flat, value in list(tensors.items()) + list(meta["scalars"].items()):
        pid, key = flat.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"torch_cuda_{i}"] = s
    py = random.getstate()
    np_state = np.random.get_state()
    meta = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np_state[1].tolist(), *[int(x) if isinstance(x, (int, np.integer)) else float(x) for x in np_state[2:]]],
    }
    return tensors, meta


def _set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("torch_cuda_")]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    py = meta["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = meta["numpy"]
    np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), *n[2:]))


def save_checkpoint(folder: Path, save_weights: Callable[[Path], Any], optimizer: torch.optim.Optimizer, scheduler: Any, state: dict[str, Any]) -> Path:
    """Write a resumable checkpoint atomically (into a temporary folder, then renamed);
    ``save_weights(tmp_folder)`` writes the trained tensors."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(tmp)
    opt_tensors, opt_meta = _optimizer_to_files(optimizer)
    save_file(opt_tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "optimizer.json").write_text(json.dumps(opt_meta))
    rng_tensors, rng_meta = _rng_state()
    save_file(rng_tensors, str(tmp / "rng.safetensors"))
    sched = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    full = {**state, "scheduler": sched, "rng": rng_meta}
    (tmp / TRAINER_STATE).write_text(json.dumps(full, indent=1))
    if folder.exists():
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(folder)
    return folder


def load_checkpoint(folder: Path, load_weights: Callable[[Path], Any], optimizer: torch.optim.Optimizer, scheduler: Any) -> dict[str, Any]:
    """Restore the trained tensors (``load_weights(folder)``), optimizer, scheduler and RNG
    states; returns the trainer state."""
    folder = Path(folder)
    if not (folder / TRAINER_STATE).is_file():
        raise LlaraError(f"{folder}: no {TRAINER_STATE}; not a training checkpoint")
    state = json.loads((folder / TRAINER_STATE).read_text())
    load_weights(folder)
    meta = json.loads((folder / "optimizer.json").read_text())
    optimizer.load_state_dict(_optimizer_from_files(load_file(str(folder / "optimizer.safetensors")), meta))
    scheduler.load_state_dict({**scheduler.state_dict(), **state["scheduler"]})
    _set_rng_state(load_file(str(folder / "rng.safetensors")), state["rng"])
    return state
