"""Checkpoint I/O without pickle: tensors as safetensors, everything else as JSON.

A checkpoint folder holds the recipe's trained tensors (for LLaRA a model artefact: adapter +
projector; for an item encoder its weights), ``optimizer.safetensors`` + ``optimizer.json``,
``rng.safetensors``, ``trainer_state.json`` (step, epoch, position in the epoch, best metric,
curriculum draw state, scheduler, Python/NumPy RNG states).

Writing is atomic as a whole: everything goes into ``NAME.tmp/`` (``trainer_state.json`` last),
every file is fsync-ed, then the old folder is renamed to ``NAME.old/``, the new one to ``NAME/``
and the old one removed. A writer killed at any point leaves either ``NAME/`` complete, or (killed
between the two renames) a complete ``NAME.tmp/`` and/or ``NAME.old/``, which
:func:`recover_checkpoint` puts back before a resume or a load.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llara_core.errors import LlaraError
from llara_core.fileio import (
    atomic_write_json,
    fsync_dir,
    fsync_tree,
    read_json,
    read_safetensors,
    save_safetensors,
)

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


def rng_snapshot() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """This process's RNG states: torch (CPU, CUDA) as tensors, Python and NumPy as JSON."""
    return _rng_state()


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


def _complete(folder: Path) -> bool:
    return (folder / TRAINER_STATE).is_file()


def recover_checkpoint(folder: Path) -> bool:
    """Put a checkpoint back in place after a writer was killed between its two renames
    (``NAME/`` missing, ``NAME.tmp/`` or ``NAME.old/`` complete); True when it recovered one.
    The newer ``NAME.tmp/`` wins when it is complete (its state file is written last)."""
    folder = Path(folder)
    if folder.exists():
        return False
    for candidate in (folder.with_name(folder.name + ".tmp"), folder.with_name(folder.name + ".old")):
        if candidate.is_dir() and _complete(candidate):
            candidate.rename(folder)
            fsync_dir(folder.parent)
            return True
    return False


def save_checkpoint(
    folder: Path,
    save_weights: Callable[[Path], Any],
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    rank_rngs: list[tuple[dict[str, torch.Tensor], dict[str, Any]]] | None = None,
) -> Path:
    """Write a resumable checkpoint atomically (into a temporary folder, fsync-ed, then renamed;
    see the module docstring); ``save_weights(tmp_folder)`` writes the trained tensors.
    ``rank_rngs`` holds every rank's :func:`rng_snapshot` (default: this process's only)."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    old = folder.with_name(folder.name + ".old")
    if not folder.exists():
        recover_checkpoint(folder)  # a previous writer was killed between its renames
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_weights(tmp)
    opt_tensors, opt_meta = _optimizer_to_files(optimizer)
    save_safetensors(opt_tensors, tmp / "optimizer.safetensors")
    atomic_write_json(tmp / "optimizer.json", opt_meta, indent=None)
    rank_rngs = rank_rngs or [_rng_state()]
    rng_tensors = {f"rank{r}.{k}": v.contiguous() for r, (tensors, _) in enumerate(rank_rngs) for k, v in tensors.items()}
    rng_meta = {"world_size": len(rank_rngs), "ranks": [meta for _, meta in rank_rngs]}
    save_safetensors(rng_tensors, tmp / "rng.safetensors")
    sched = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    full = {**state, "scheduler": sched, "rng": rng_meta}
    atomic_write_json(tmp / TRAINER_STATE, full, indent=1)  # last: its presence marks a complete folder
    fsync_tree(tmp)
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
        tmp.rename(folder)
        fsync_dir(folder.parent)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(folder)
        fsync_dir(folder.parent)
    return folder


def read_trainer_state(folder: Path) -> dict[str, Any]:
    """``trainer_state.json`` of a checkpoint folder (LlaraError naming it when absent or bad)."""
    folder = Path(folder)
    if not (folder / TRAINER_STATE).is_file():
        raise LlaraError(f"{folder}: no {TRAINER_STATE}; not a training checkpoint")
    state = read_json(folder / TRAINER_STATE, "a training checkpoint's state")
    if not isinstance(state, dict) or not isinstance(state.get("global_step"), int):
        raise LlaraError(f"{folder / TRAINER_STATE}: not a training checkpoint's state (no global_step)")
    return state


def load_checkpoint(folder: Path, load_weights: Callable[[Path], Any], optimizer: torch.optim.Optimizer, scheduler: Any, rank: int = 0) -> dict[str, Any]:
    """Restore the trained tensors (``load_weights(folder)``), optimizer, scheduler and this
    ``rank``'s RNG states; returns the trainer state. A damaged file is one LlaraError naming it.
    A checkpoint from another world size loads too: a rank it had no state for starts from rank
    0's, re-seeded by its rank."""
    folder = Path(folder)
    state = read_trainer_state(folder)
    load_weights(folder)
    meta = read_json(folder / "optimizer.json", "the optimiser state")
    tensors = read_safetensors(folder / "optimizer.safetensors", "optimiser state")
    try:
        optimizer.load_state_dict(_optimizer_from_files(tensors, meta))
        scheduler.load_state_dict({**scheduler.state_dict(), **state["scheduler"]})
        _restore_rank_rng(read_safetensors(folder / "rng.safetensors", "random generator states"), state["rng"], rank)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise LlaraError(f"{folder}: the optimiser, schedule or RNG state does not fit this run ({type(exc).__name__}: {exc})") from None
    return state


def _restore_rank_rng(tensors: dict[str, torch.Tensor], meta: dict[str, Any], rank: int) -> None:
    if "ranks" not in meta:  # a single-process checkpoint from before per-rank states
        _set_rng_state(tensors, meta)
        return
    saved = rank if rank < meta["world_size"] else 0
    prefix = f"rank{saved}."
    _set_rng_state({k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, meta["ranks"][saved])
    if saved != rank:  # distinct, reproducible streams for ranks the checkpoint did not have
        torch.manual_seed(int(torch.randint(0, 2**62, (1,))) + rank)
