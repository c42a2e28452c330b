"""Collation: prompt building + tokenisation (``model.build_prompts`` + ``model.encode(...,
with_answers=True)``), the per-batch CPU work before the model runs.

Measured: samples/s over 64 samples in batches of 8, hybrid prompts, by CPU time (median of
rounds), with SmolLM2's tokenizer on LastFM val prompts (skipped without SmolLM2 or the data)
and with the tiny backbone's tokenizer on the synthetic world. Asserted: every batch carries one
behaviour item per placeholder and labelled answer tokens.
"""

from __future__ import annotations

from benchmarks.measure import interleave, rounds
from llara_core.interfaces import PromptMode
from llara_core.model.batching import IGNORE

N_SAMPLES, BATCH = 64, 8


def _collate_all(model, samples):
    out = []
    for s in range(0, len(samples), BATCH):
        prompts = model.build_prompts(samples[s : s + BATCH], PromptMode.HYBRID)
        out.append(model.encode(prompts, with_answers=True))
    return out


def _measure(benchmark, record, rid, model, samples, tokenizer):
    result = []
    fn = lambda: _collate_all(model, samples)  # noqa: E731
    n = rounds("LLARA_BENCH_COLLATION_ROUNDS", 5)
    benchmark.pedantic(lambda: result.append(interleave({"collate": fn}, n, warmup={"collate": fn})), rounds=1, iterations=1)
    t = result[0]
    batches = t.last["collate"]
    for b in batches:
        assert int((b.input_ids == model.placeholder_id).sum()) == b.item_ids.numel() > 0
        assert bool((b.labels != IGNORE).any())
    seconds = t.median("collate")
    tokens = sum(b.n_tokens for b in batches)
    record(
        rid,
        group="collation",
        what=f"build_prompts + encode(with_answers=True), hybrid, {tokenizer}",
        sizes={"samples": len(samples), "batch": BATCH, "tokens": tokens},
        medians={"all_batches": seconds},
        rounds=t.seconds,
        value=("throughput", len(samples) / seconds, "samples/s"),
        extra={"tokens_per_s": tokens / seconds, "ms_per_batch": 1000 * seconds * BATCH / len(samples)},
        show=["ms_per_batch"],
    )


def test_collation_smollm2_lastfm(benchmark, record, smollm2_world):
    from benchmarks.smollm2_world import prompt_samples

    samples = prompt_samples(smollm2_world.dataset, "val", N_SAMPLES)
    _measure(benchmark, record, "collation.smollm2_lastfm", smollm2_world.model, samples, "SmolLM2 tokenizer, LastFM val, 20 candidates")


def test_collation_tiny(benchmark, record, tiny_model):
    from benchmarks.smollm2_world import prompt_samples
    from llara_core.data import Dataset

    samples = prompt_samples(Dataset.load(tiny_model.config.data.path), "train", N_SAMPLES)
    _measure(benchmark, record, "collation.tiny", tiny_model, samples, "tiny-random-llama tokenizer, synthetic world, 20 candidates")
