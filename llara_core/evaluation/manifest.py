"""The provenance block written into every result file."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import torch


def code_version() -> dict[str, Any]:
    """llara's version and, when run from a git checkout, the commit and whether it is dirty."""
    from llara_core import __version__

    info: dict[str, Any] = {"llara": __version__, "git_commit": None, "git_dirty": None}
    root = Path(__file__).resolve().parents[2]
    if (root / ".git").exists():
        try:
            info["git_commit"] = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip() or None
            status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5).stdout
            info["git_dirty"] = bool(status.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def machine() -> dict[str, Any]:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass
    return info


def evaluation_manifest(model: Any, dataset: Any, config: dict[str, Any] | None, seeds: list[int], candidate_sha256: dict[str, str], wall_s: float, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "config": config,
        "components": {k: {f: v.get(f) for f in ("name", "distribution", "version", "implementation")} for k, v in (config or {}).items() if isinstance(v, dict) and "distribution" in v},
        "backbone": model.backbone_identity,
        "dataset": {"name": dataset.name, "path": str(dataset.path), "content_hash": dataset.content_hash, "n_items": dataset.n_items},
        "candidate_sha256": candidate_sha256,
        "seeds": seeds,
        "code": code_version(),
        "machine": machine(),
        "wall_s": round(wall_s, 3),
        **(extra or {}),
    }
