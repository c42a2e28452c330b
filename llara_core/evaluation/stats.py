"""Intervals and comparisons: percentile bootstrap of a mean, spread over seeds, paired
differences between two methods on the same samples and candidates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from llara_core.errors import UsageError

N_BOOT = 2000


def bootstrap_ci(values: Sequence[float], n_boot: int = N_BOOT, alpha: float = 0.05, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (resampling samples)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(v), size=(n_boot, len(v)))
    means = v[idx].mean(1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def with_interval(values: Sequence[float], **kw) -> dict[str, float]:
    lo, hi = bootstrap_ci(values, **kw)
    return {"value": float(np.mean(values)) if len(values) else float("nan"), "ci_low": lo, "ci_high": hi, "n": len(values)}


def report(per_sample: Mapping[str, Sequence[float]], **kw) -> dict[str, dict[str, float]]:
    """metric -> {value, ci_low, ci_high, n} for every per-sample metric array."""
    return {k: with_interval(v, **kw) for k, v in per_sample.items()}


def over_seeds(per_seed: Sequence[Mapping[str, Sequence[float]]], **kw) -> dict[str, dict[str, float]]:
    """Mean and spread of each metric over candidate seeds, plus a bootstrap interval of the
    per-sample values averaged over seeds (samples are the resampling unit)."""
    out: dict[str, dict[str, float]] = {}
    for metric in per_seed[0]:
        seed_means = np.array([np.mean(s[metric]) for s in per_seed])
        avg = np.mean([np.asarray(s[metric], dtype=np.float64) for s in per_seed], axis=0)
        lo, hi = bootstrap_ci(avg, **kw)
        out[metric] = {
            "mean": float(seed_means.mean()),
            "std": float(seed_means.std(ddof=1)) if len(seed_means) > 1 else 0.0,
            "min": float(seed_means.min()),
            "max": float(seed_means.max()),
            "ci_low": lo,
            "ci_high": hi,
            "seeds": len(per_seed),
            "n": int(len(avg)),
        }
    return out


def paired_difference(a: Sequence[float], b: Sequence[float], **kw) -> dict[str, float]:
    """Mean of ``a - b`` over the same samples with a bootstrap interval, and the share of
    bootstrap replicates where the difference is <= 0 (a one-sided p-value for a > b)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise UsageError(f"paired comparison needs the same samples: {a.shape} vs {b.shape}")
    d = a - b
    n_boot = kw.pop("n_boot", N_BOOT)
    rng = np.random.default_rng(kw.pop("seed", 0))
    means = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(1)
    alpha = kw.pop("alpha", 0.05)
    return {
        "difference": float(d.mean()),
        "ci_low": float(np.quantile(means, alpha / 2)),
        "ci_high": float(np.quantile(means, 1 - alpha / 2)),
        "p_not_greater": float((means <= 0).mean()),
        "n": int(len(d)),
    }
