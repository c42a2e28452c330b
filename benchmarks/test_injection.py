"""Behaviour injection: llara's one ``masked_scatter`` vs the reference's per-token Python loop.

Measured: forward + backward (gradient to the behaviour rows) of the injection alone, at
SmolLM2's hidden size: B 8, T 400, H 576, 30 placeholders per row (10 history + 20 candidates).
Interleaved rounds, CPU time, medians; the ratio is loop / vectorised. Asserted: both give the
same embeddings and the same gradient.
"""

from __future__ import annotations

import torch

from benchmarks.baselines.loop_injection import loop_injection
from benchmarks.measure import interleave, rounds
from llara_core.model.injection import inject_behaviour

B, T, H, PER_ROW, PH = 8, 400, 576, 30, 7


def _batch():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 1000, (B, T), generator=g)
    for b in range(B):
        ids[b, torch.randperm(T, generator=g)[:PER_ROW]] = PH
    return torch.randn(B, T, H, generator=g), ids, torch.randn(B * PER_ROW, H, generator=g)


def _forward_backward(inject, embeds, ids, behaviour):
    leaf = behaviour.detach().requires_grad_(True)
    out = inject(embeds, ids, PH, leaf)
    out.sum().backward()
    return out.detach(), leaf.grad


def test_injection_vectorised_vs_loop(benchmark, record):
    embeds, ids, behaviour = _batch()
    variants = {
        "vectorised": lambda: _forward_backward(inject_behaviour, embeds, ids, behaviour),
        "loop": lambda: _forward_backward(loop_injection, embeds, ids, behaviour),
    }
    n = rounds("LLARA_BENCH_INJECTION_ROUNDS", 10)
    result = []
    benchmark.pedantic(lambda: result.append(interleave(variants, n, warmup=variants)), rounds=1, iterations=1)
    t = result[0]
    (out_v, grad_v), (out_l, grad_l) = t.last["vectorised"], t.last["loop"]
    assert torch.equal(out_v, out_l) and torch.equal(grad_v, grad_l)
    record(
        "injection.vectorised_vs_loop",
        group="injection",
        what="inject_behaviour (one masked_scatter) vs the reference's per-sample, per-token loop; forward + backward",
        sizes={"batch": B, "tokens": T, "hidden": H, "placeholders_per_row": PER_ROW},
        medians=t.medians(),
        rounds=t.seconds,
        ratio=("loop / vectorised", t.ratio("loop", "vectorised")),
        ratio_of=("loop", "vectorised"),
    )
