"""Choose a training precision the hardware computes natively.

``precision: auto`` resolves to Fabric's ``bf16-mixed`` (fp32 master weights, bf16 matmuls) on a
CUDA device with bf16 support or a CPU whose flags include ``amx_bf16`` or ``avx512_bf16``, and
to ``32-true`` otherwise: on a CPU without those instructions bf16 is emulated and was measured
~10x slower than fp32 (DESIGN §6). An explicit bf16 precision on such a CPU warns once.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

NATIVE_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
AUTO = "auto"


@functools.cache
def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU feature flags of the first processor in ``cpuinfo`` (empty when unreadable)."""
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bf16(flags: frozenset[str] | None = None) -> bool:
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in NATIVE_BF16_CPU_FLAGS)


def _uses_cuda(accelerator: str) -> bool:
    if accelerator in ("cuda", "gpu"):
        return True
    if accelerator != "auto":
        return False
    import torch

    return torch.cuda.is_available()


def resolve_precision(precision: str, accelerator: str = "auto", flags: frozenset[str] | None = None) -> tuple[str, str]:
    """(Fabric precision, reason) for the configured ``precision`` on ``accelerator``."""
    if _uses_cuda(accelerator):
        if precision != AUTO:
            return precision, "as configured"
        import torch

        if torch.cuda.is_bf16_supported():
            return "bf16-mixed", "auto: the CUDA device computes bf16"
        return "32-true", "auto: the CUDA device has no bf16"
    native = cpu_has_native_bf16(flags)
    found = sorted(set(NATIVE_BF16_CPU_FLAGS) & (cpu_flags() if flags is None else flags))
    if precision == AUTO:
        if native:
            return "bf16-mixed", f"auto: the CPU computes bf16 natively ({', '.join(found)})"
        return "32-true", "auto: the CPU has no amx_bf16 / avx512_bf16, so bf16 would be emulated (~10x slower)"
    if "bf16" in precision and not native:
        warn_emulated_bf16(precision)
    return precision, "as configured"


@functools.cache
def warn_emulated_bf16(precision: str) -> None:
    warnings.warn(
        f"training.precision {precision!r} on a CPU without amx_bf16 / avx512_bf16: bf16 is emulated there "
        "and runs ~10x slower than fp32; use precision: auto or 32-true",
        stacklevel=3,
    )
