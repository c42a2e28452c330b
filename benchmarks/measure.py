"""Interleaved CPU-time measurement of variants that compute the same thing.

The machine is shared, so variants are compared side by side in one process: every round runs
each variant once, in a fixed order (A, B, A, B, ...), and each call is timed by this process's
CPU time (``time.process_time``: user + system time of all its threads; at one torch thread
that is the work done, whatever else runs on the core). Results are medians over rounds and
ratios of medians. Warm-up calls (untimed) come first, so one-off costs (kernel selection,
heap growth, lazy caches) do not land in the first round.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


def rounds(env: str, default: int) -> int:
    """A round count that ``$env`` may override (to shorten or lengthen a run)."""
    return max(1, int(os.environ.get(env) or default))


@dataclass
class Timings:
    """CPU seconds of every call of every variant, in call order."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)  # each variant's last return value

    def median(self, name: str) -> float:
        return statistics.median(self.seconds[name])

    def medians(self) -> dict[str, float]:
        return {name: self.median(name) for name in self.seconds}

    def ratio(self, numerator: str, denominator: str) -> float:
        return self.median(numerator) / self.median(denominator)


def cpu_time(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``(fn(), CPU seconds it took)``; garbage is collected before, outside the timing (cheap
    inside ``interleave``, which freezes the objects that existed before it)."""
    gc.collect()
    start = time.process_time()
    out = fn()
    return out, time.process_time() - start


class Probe(Protocol):
    """Something measured around one call, outside its timing (e.g. peak memory)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def interleave(
    variants: Mapping[str, Callable[[], Any]],
    n_rounds: int,
    warmup: Mapping[str, Callable[[], Any]] | None = None,
    first_round_probes: Mapping[str, Probe] | None = None,
) -> Timings:
    """Time ``variants`` over ``n_rounds`` interleaved rounds (after one untimed call of each
    ``warmup`` callable, in order). ``first_round_probes[name]`` is started just before and
    stopped just after the first timed call of ``name``, outside its timing."""
    probes = dict(first_round_probes or {})
    gc.collect()
    gc.freeze()  # later collections skip the (many) objects of the loaded libraries and models
    try:
        for fn in (warmup or {}).values():
            fn()
        timings = Timings({name: [] for name in variants})
        for r in range(n_rounds):
            for name, fn in variants.items():
                probe = probes.get(name) if r == 0 else None
                if probe is not None:
                    gc.collect()
                    probe.start()
                out, seconds = cpu_time(fn)
                if probe is not None:
                    probe.stop()
                timings.seconds[name].append(seconds)
                timings.last[name] = out
        return timings
    finally:
        gc.unfreeze()
