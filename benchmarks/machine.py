"""The machine a benchmark run measured on: CPU model and flags, cores, torch, threads, precision.

Recorded next to every timing (DESIGN §6: build machines differ from one session to the next,
and bf16 speed depends on ``avx512_bf16`` / ``amx_bf16``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any

#: CPU flags that decide the speed of fp32 / bf16 matmuls on this kind of machine
FLAGS_OF_INTEREST = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")
THREADS_ENV = "LLARA_BENCH_THREADS"


def bench_threads() -> int:
    """Torch threads for the whole suite: 1, or ``$LLARA_BENCH_THREADS``."""
    return int(os.environ.get(THREADS_ENV) or 1)


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith(("model name", "Model", "Hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags_of_interest(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith(("flags", "Features")):
                present = set(line.split(":", 1)[1].split())
                return [f for f in FLAGS_OF_INTEREST if f in present]
    except OSError:
        pass
    return []


def train_precision() -> tuple[str, str]:
    """What llara's ``precision: auto`` resolves to on this CPU, and why."""
    from llara_core.training.precision import resolve_precision

    return resolve_precision("auto", "cpu")


def describe_machine() -> dict[str, Any]:
    import torch
    import transformers

    precision, reason = train_precision()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu_model": cpu_model(),
        "cpu_flags": cpu_flags_of_interest(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "train_precision": precision,
        "train_precision_reason": reason,
    }


def machine_key(machine: dict[str, Any]) -> str:
    """A short id of what makes timings comparable (CPU, flags, versions, threads)."""
    keep = {k: machine.get(k) for k in ("cpu_model", "cpu_flags", "cores", "torch", "transformers", "torch_threads")}
    return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:12]
