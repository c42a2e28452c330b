"""Candidate scoring and generation: one-pass scoring vs the prompt-forward floor, llara's
previous KV-repeat scorer, llara's generation and reference-style generation; and the peak
memory of the two scorers (see ``benchmarks/scoring_compare.py`` for the variants).

SmolLM2: 8 LastFM val samples, 20 candidates, hybrid prompts, fp32, eval mode, no gradients;
the five variants interleaved (2 rounds by default: ``$LLARA_BENCH_SCORING_ROUNDS``). The tiny
backbone runs the same comparison (more rounds), so the ratios are visible without
SmolLM2. Asserted: the two scorers' scores agree to 1e-3 with the same argmax.
"""

from __future__ import annotations

from benchmarks import scoring_compare
from benchmarks.measure import rounds
from llara_core.interfaces import PromptMode


def _run(benchmark, model, samples, n_rounds, with_memory):
    prompts = model.build_prompts(samples, PromptMode.HYBRID)
    titles = [[model.prompt_builder.title(c) for c in s.candidates] for s in samples]
    out = []
    benchmark.pedantic(lambda: out.append(scoring_compare.measure(model, prompts, titles, n_rounds, with_memory)), rounds=1, iterations=1)
    return out[0]


def test_scoring_smollm2(benchmark, record, smollm2_world):
    run = _run(benchmark, smollm2_world.model, smollm2_world.samples, rounds("LLARA_BENCH_SCORING_ROUNDS", 2), True)
    scoring_compare.record_all(record, run, "smollm2", with_targets=True)


def test_scoring_tiny(benchmark, record, tiny_model):
    from benchmarks.smollm2_world import prompt_samples
    from llara_core.data import Dataset
    from tests.llara_world import with_active_adapters

    model = with_active_adapters(tiny_model)
    samples = prompt_samples(Dataset.load(model.config.data.path), "val", 8)
    run = _run(benchmark, model, samples, rounds("LLARA_BENCH_TINY_SCORING_ROUNDS", 7), True)
    scoring_compare.record_all(record, run, "tiny", with_targets=False)
