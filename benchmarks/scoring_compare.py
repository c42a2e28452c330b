"""The candidate-scoring comparison shared by the SmolLM2 and the tiny-backbone benchmarks.

Five variants on the same 8 prompts (hybrid, 20 candidates each), eval mode, no gradients, fp32:

- ``one_pass``: ``model.score_candidates`` (prompt + all 20 answers in one forward, 4D mask);
- ``prompt_forward``: one forward of each prompt alone, ``logits_to_keep=1`` (the floor);
- ``kv_repeat``: llara's previous scorer (``baselines/kv_repeat_scoring.py``, batch 8);
- ``llara_generation``: ``model.generate(prompts, 64, 8)`` (left padding, stops at the newline);
- ``reference_generation``: right padding, ``generate`` on ``inputs_embeds``, always 64 new
  tokens (``baselines/reference_generation.py``, batch 8).

``measure`` interleaves them (one call each per round, CPU time) after small untimed warm-ups
(2 prompts, 4 new tokens); the first timed call of each scorer also measures its peak extra
memory (``benchmarks/memory.py``; the heap trim and counter reset happen outside the timing,
and refaulting the trimmed pages adds ~1% to that call). ``check`` asserts
what makes the comparison fair: the two scorers' scores agree to 1e-3 with the same argmax, and
the reference generated exactly 64 tokens per prompt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from benchmarks.baselines.kv_repeat_scoring import score_prompts
from benchmarks.baselines.prompt_forward import prompt_forward
from benchmarks.baselines.reference_generation import reference_generate
from benchmarks.measure import Timings, interleave
from benchmarks.memory import PeakRSS

NEW_TOKENS, BATCH = 64, 8


@dataclass
class ScoringRun:
    timings: Timings
    memory: dict[str, int | None] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def variants(model, prompts, titles, new_tokens: int = NEW_TOKENS) -> dict:
    return {
        "one_pass": lambda: model.score_candidates(prompts, titles),
        "prompt_forward": lambda: prompt_forward(model, prompts),
        "kv_repeat": lambda: score_prompts(model, prompts, titles, False, BATCH),
        "llara_generation": lambda: model.generate(prompts, new_tokens, BATCH),
        "reference_generation": lambda: reference_generate(model, prompts, new_tokens, BATCH),
    }


def sizes(model, prompts, titles) -> dict[str, int]:
    tok = model.prompt_tokenizer
    prompt_tokens = sum(len(tok.checked_prompt_ids(p, i)) for i, p in enumerate(prompts))
    answer_tokens = sum(len(tok.answer_ids(t)) for group in titles for t in group)
    return {"samples": len(prompts), "candidates": len(titles[0]), "batch": BATCH,
            "prompt_tokens": prompt_tokens, "answer_tokens": answer_tokens, "new_tokens": NEW_TOKENS}


def measure(model, prompts, titles, n_rounds: int, with_memory: bool = True) -> ScoringRun:
    model.eval()
    run = ScoringRun(Timings(), sizes=sizes(model, prompts, titles))
    probes = {"one_pass": PeakRSS(), "kv_repeat": PeakRSS()} if with_memory else {}
    with torch.no_grad():
        warm = variants(model, prompts[:2], titles[:2], new_tokens=4)
        run.timings = interleave(variants(model, prompts, titles), n_rounds, warmup=warm, first_round_probes=probes)
    run.memory = {name: probe.extra_bytes for name, probe in probes.items()}
    return run


def check(run: ScoringRun) -> float:
    """Assert that the scorers agree and the reference generated its 64 tokens; returns the
    largest score difference."""
    last = run.timings.last
    one_pass, kv = last["one_pass"], last["kv_repeat"]
    diff = max(float(np.abs(a - b).max()) for a, b in zip(one_pass, kv))
    assert diff <= 1e-3, f"one-pass and KV-repeat scores differ by {diff}"
    assert [int(np.argmax(a)) for a in one_pass] == [int(np.argmax(b)) for b in kv], "the scorers rank differently"
    assert all(len(t) == NEW_TOKENS for t in last["reference_generation"])
    assert len(last["llara_generation"]) == len(one_pass)
    return diff


def record_all(record, run: ScoringRun, backbone: str, with_targets: bool) -> None:
    """The scoring records of one backbone (``smollm2`` carries the targets; ``tiny`` shows the
    same ratios for a backbone without them)."""
    t, n, s = run.timings, run.sizes["samples"], run.sizes
    diff = check(run)
    note = [] if with_targets else ["tiny backbone: ratios only (the targets are SmolLM2's); per-call overheads weigh more here"]
    common = dict(group="scoring", sizes=s, rounds=t.seconds, notes=note)
    record(f"scoring.one_pass_vs_prompt_forward.{backbone}",
           what="one-pass scoring (prompt + 20 answers, one forward, 4D mask) vs one forward of each prompt alone (logits_to_keep=1)",
           medians={"one_pass": t.median("one_pass"), "prompt_forward": t.median("prompt_forward")},
           ratio=("one-pass / prompt forward", t.ratio("one_pass", "prompt_forward")), **common)
    record(f"scoring.kv_repeat_vs_one_pass.{backbone}",
           what="llara's previous scorer (prompt KV cache repeated 20x, batch 8) vs one-pass scoring",
           medians={"kv_repeat": t.median("kv_repeat"), "one_pass": t.median("one_pass")},
           ratio=("KV-repeat / one-pass", t.ratio("kv_repeat", "one_pass")),
           extra={"max_score_difference": diff}, **common)
    record(f"scoring.generation.{backbone}",
           what="llara's greedy generation (left padding, KV cache, stop at the newline, <= 64 tokens, batch 8) vs one-pass scoring",
           medians={"llara_generation": t.median("llara_generation"), "one_pass": t.median("one_pass")},
           ratio=("llara generation / one-pass", t.ratio("llara_generation", "one_pass")),
           extra={"reference_generation_over_llara_generation": t.ratio("reference_generation", "llara_generation"),
                  "llara_answer_mean_chars": sum(map(len, t.last["llara_generation"])) / n,
                  "llara_answers_first_3": list(t.last["llara_generation"][:3])}, **common)
    record(f"scoring.reference_generation_vs_one_pass.{backbone}",
           what="reference-style generation (right padding, generate on inputs_embeds, always 64 new tokens, batch 8) vs one-pass scoring, per sample",
           medians={"reference_generation_per_sample": t.median("reference_generation") / n, "one_pass_per_sample": t.median("one_pass") / n},
           ratio=("reference generation / one-pass", t.ratio("reference_generation", "one_pass")),
           ratio_of=("reference_generation", "one_pass"), **common)
    if run.memory:
        gb = {k: (v / 2**30 if v is not None else None) for k, v in run.memory.items()}
        record(f"scoring.memory.{backbone}",
               what="peak extra resident memory while scoring 8 samples (20 candidates, batch 8): one-pass vs KV-repeat",
               sizes=s, unit="GB", medians={f"{k}_gb": v for k, v in gb.items()},
               value=("one-pass peak extra", gb["one_pass"], "GB"),
               notes=[*note, "measured in-process during the first timed call of each (after a 2-prompt warm-up, so one-off allocations of a process's first scoring call are not counted): malloc_trim and VmHWM reset (clear_refs 5) before, VmHWM after - VmRSS before"],
               group="scoring")
