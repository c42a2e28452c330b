"""Training step (forward + backward + AdamW step) of llara against the bare PEFT model, the
LoRA floor, and the project's previous training config (``benchmarks/train_steps.py`` has the
step functions).

- (a) ``llara_vs_bare``: llara's step (encode + inject + ``model(batch)`` + backward + step) vs
  the bare PEFT model's step on identical precomputed ``inputs_embeds`` and the same answer-token
  cross-entropy; target llara <= 1.10x bare.
- (b) ``lora_overhead``: the bare step with adapters vs under ``disable_adapter()`` (~ merged
  weights, the floor).
- (c) ``today_vs_lean`` (SmolLM2 only): today's config (gradient checkpointing, LoRA dropout
  0.1, fp32, the chat template's default system prompt) vs the lean one (no checkpointing,
  dropout 0, precision auto, empty system prompt); target lean >= 1.7x faster.

Train steps run under bf16 autocast where ``precision: auto`` resolves to ``bf16-mixed`` (the
lean config and (a), (b)); today's config runs fp32. SmolLM2: LastFM val hybrid prompts, batch
8; the four steps (today, llara = lean, bare, bare without adapters) interleaved in one loop,
3 rounds by default (``$LLARA_BENCH_TRAIN_ROUNDS``), after small warm-up steps; the lean
model's trainable weights are restored afterwards (the session shares it). Tiny backbone: the
three steps of (a) and (b), more rounds. Asserted: llara's loss equals the bare loss on the
same batch, the adapter-free loss equals it at LoRA init, and today's and the lean batch
teach the same answer tokens.
"""

from __future__ import annotations

from benchmarks import train_steps as ts
from benchmarks.machine import train_precision
from benchmarks.measure import interleave, rounds
from llara_core.interfaces import PromptMode
from llara_core.model.batching import IGNORE

WARMUP_ROWS = 2


def _answer_tokens(batch) -> list[list[int]]:
    return [row[lab != IGNORE].tolist() for row, lab in zip(batch.input_ids, batch.labels)]


def _three_steps(model, prompts, precision):
    """llara, bare and bare-without-adapters steps (and small warm-ups) of one model."""
    batch = ts.check_same_loss(model, prompts)
    embeds = model.input_embeddings(batch).detach()
    opt = ts.optimizer(model)
    steps = {
        "llara": ts.llara_step(model, prompts, opt, precision),
        "bare": ts.bare_step(model, batch, embeds, opt, precision),
        "bare_no_adapters": ts.bare_step(model, batch, embeds, opt, precision, adapters=False),
    }
    part, part_embeds = ts.first_rows(batch, embeds, WARMUP_ROWS)
    warm = {
        "llara": ts.llara_step(model, prompts[:WARMUP_ROWS], opt, precision),
        "bare": ts.bare_step(model, part, part_embeds, opt, precision),
        "bare_no_adapters": ts.bare_step(model, part, part_embeds, opt, precision, adapters=False),
    }
    return batch, steps, warm


def _record_a_b(record, t, backbone, sizes, precision):
    common = dict(group="train step", sizes=sizes, extra={"precision": precision})
    pick = lambda *names: {k: t.seconds[k] for k in names}  # noqa: E731
    record(f"train_step.llara_vs_bare.{backbone}",
           what="llara step (encode + inject + forward + backward + AdamW) vs the bare PEFT step on identical precomputed inputs_embeds",
           medians={"llara": t.median("llara"), "bare": t.median("bare")}, rounds=pick("llara", "bare"),
           ratio=("llara / bare", t.ratio("llara", "bare")), **common)
    record(f"train_step.lora_overhead.{backbone}",
           what="bare step with LoRA adapters vs under disable_adapter() (~ merged weights, the floor)",
           medians={"bare": t.median("bare"), "bare_no_adapters": t.median("bare_no_adapters")},
           rounds=pick("bare", "bare_no_adapters"),
           ratio=("with adapters / without", t.ratio("bare", "bare_no_adapters")), **common)


def test_train_step_tiny(benchmark, record, tiny_model, llara_world):
    from benchmarks.smollm2_world import prompt_samples
    from llara_core.data import Dataset

    precision = train_precision()[0]
    model = tiny_model.train()
    prompts = model.build_prompts(prompt_samples(Dataset.load(model.config.data.path), "val", 8), PromptMode.HYBRID)
    batch, steps, warm = _three_steps(model, prompts, precision)
    out = []
    n = rounds("LLARA_BENCH_TINY_TRAIN_ROUNDS", 21)
    benchmark.pedantic(lambda: out.append(interleave(steps, n, warmup=warm)), rounds=1, iterations=1)
    sizes = {"batch": len(prompts), "tokens_per_step": batch.n_tokens, "seq_len": batch.input_ids.shape[1]}
    _record_a_b(record, out[0], "tiny", sizes, precision)


def test_train_step_smollm2(benchmark, record, smollm2_world):
    from benchmarks.smollm2_world import LEAN, TODAY, build

    precision = train_precision()[0]
    lean = smollm2_world.model
    saved = lean.trainable_state_dict()
    today, _ = build(TODAY, smollm2_world.dataset)
    try:
        lean.train()
        today.train()
        samples = smollm2_world.samples
        prompts = lean.build_prompts(samples, PromptMode.HYBRID)
        today_prompts = today.build_prompts(samples, PromptMode.HYBRID)
        batch, steps, warm = _three_steps(lean, prompts, precision)
        today_batch = today.encode(today_prompts, with_answers=True)
        assert _answer_tokens(today_batch) == _answer_tokens(batch), "today's and the lean batch teach different answers"
        today_opt = ts.optimizer(today)
        steps = {"today": ts.llara_step(today, today_prompts, today_opt, "32-true"), **steps}
        warm = {"today": ts.llara_step(today, today_prompts[:WARMUP_ROWS], today_opt, "32-true"), **warm}
        out = []
        n = rounds("LLARA_BENCH_TRAIN_ROUNDS", 3)
        benchmark.pedantic(lambda: out.append(interleave(steps, n, warmup=warm)), rounds=1, iterations=1)
    finally:
        lean.load_trainable_state_dict(saved)
        del today
    t = out[0]
    sizes = {"batch": len(prompts), "tokens_per_step": batch.n_tokens, "seq_len": batch.input_ids.shape[1]}
    _record_a_b(record, t, "smollm2", sizes, precision)
    record("train_step.today_vs_lean.smollm2",
           group="train step",
           what="today's config (gradient checkpointing, LoRA dropout 0.1, fp32, template's default system prompt) vs "
                "the lean one (no checkpointing, dropout 0, precision auto, empty system prompt); full llara steps",
           sizes={"batch": len(prompts), "tokens_per_step_today": today_batch.n_tokens, "tokens_per_step_lean": batch.n_tokens},
           medians={"today": t.median("today"), "lean": t.median("llara")},
           rounds={"today": t.seconds["today"], "lean": t.seconds["llara"]}, ratio_of=("today", "lean"),
           ratio=("today / lean", t.ratio("today", "llara")),
           extra={"precision_today": "32-true", "precision_lean": precision, "settings_today": TODAY, "settings_lean": LEAN},
           notes=["understates the before/after gain: the old code also spent ~15% more tokens on a space before every "
                  "placeholder, which the current tokenizer no longer does; the side-by-side measurement against the old "
                  "code is in docs/training.md"])
