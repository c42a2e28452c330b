"""Peak extra resident memory of one call, measured in this process (Linux only).

Free heap pages are returned to the kernel first (``malloc_trim``), so the call's allocations
must raise the resident set; the kernel's high-water mark is then reset to the current RSS
(``/proc/self/clear_refs`` ← ``5``), and the increase is ``VmHWM`` after the call minus
``VmRSS`` before it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise OSError(f"{field} not in {STATUS}")


def _trim_heap() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the measurement may under-report
        pass


def supported() -> bool:
    try:
        _status_kib("VmHWM")
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class PeakRSS:
    """``start()`` / ``stop()`` around a call; ``extra_bytes`` is then its peak RSS increase
    (None when the kernel does not support the measurement)."""

    def __init__(self) -> None:
        self.extra_bytes: int | None = None
        self._before: int | None = None

    def start(self) -> None:
        if not supported():
            self._before = None
            return
        _trim_heap()
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        self._before = _status_kib("VmRSS")

    def stop(self) -> None:
        if self._before is not None:
            self.extra_bytes = max(0, _status_kib("VmHWM") - self._before) * 1024


def peak_extra_bytes(fn: Callable[[], Any]) -> tuple[Any, int | None]:
    """``(fn(), peak RSS increase in bytes during the call)``; None when unsupported."""
    probe = PeakRSS()
    probe.start()
    out = fn()
    probe.stop()
    return out, probe.extra_bytes
