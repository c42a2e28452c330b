"""Where a SmolLM2 train step's time goes: llara's step against the bare PEFT step, op by op.

``python benchmarks/profile_train_step.py [--steps 2] [--out FILE.md]`` builds the benchmarks'
lean SmolLM2 LLaRA model on LastFM val prompts (``benchmarks/smollm2_world.py``: batch 8,
hybrid, 20 candidates), warms both steps of ``benchmarks/train_steps.py`` up, then runs each
``--steps`` times under ``torch.profiler`` (CPU, one thread) and prints a Markdown table: per
operator, the profiler's self time per step of each variant and llara minus bare, sorted by
the difference, then the operators only llara's step runs. The profiler's times are wall-clock
(on a shared core they include waiting); the CPU-s per step beside them are process CPU time. It is the profile behind the ``train_step.llara_vs_bare.smollm2`` note in
``benchmarks/notes.md``; the ratio itself is measured by the suite (``test_train_step.py``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import train_steps as ts  # noqa: E402
from benchmarks.machine import train_precision  # noqa: E402
from benchmarks.smollm2_world import LEAN, build, missing_reason, prompt_samples  # noqa: E402
from llara_core.interfaces import PromptMode  # noqa: E402


def self_cpu_per_op(step: Callable[[], float], steps: int) -> dict[str, float]:
    """Self CPU seconds per step of every operator ``step`` runs (``steps`` profiled calls)."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    return {e.key: e.self_cpu_time_total / 1e6 / steps for e in prof.key_averages()}


def table(llara: dict[str, float], bare: dict[str, float], top: int) -> list[str]:
    ops = sorted(set(llara) | set(bare), key=lambda k: -(llara.get(k, 0.0) - bare.get(k, 0.0)))
    lines = ["| operator | llara (s/step) | bare (s/step) | llara − bare |", "|---|---|---|---|"]
    for k in ops[:top]:
        a, b = llara.get(k, 0.0), bare.get(k, 0.0)
        lines.append(f"| `{k}` | {a:.3f} | {b:.3f} | {a - b:+.3f} |")
    lines.append(f"| **all operators** | {sum(llara.values()):.3f} | {sum(bare.values()):.3f} | {sum(llara.values()) - sum(bare.values()):+.3f} |")
    only = sorted((k for k in llara if k not in bare), key=lambda k: -llara[k])
    lines += ["", f"Operators in llara's step only ({len(only)}; together {sum(llara[k] for k in only):.3f} s/step, "
              f"{100 * sum(llara[k] for k in only) / max(sum(llara.values()), 1e-12):.1f}% of its operator time): "
              + ", ".join(f"`{k}` {llara[k]:.3f}" for k in only[:top])]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="profiled steps per variant (after one warm-up each)")
    parser.add_argument("--top", type=int, default=15, help="operators listed")
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    args = parser.parse_args(argv)
    reason = missing_reason()
    if reason:
        raise SystemExit(f"cannot profile: {reason}")
    torch.set_num_threads(1)
    precision = train_precision()[0]
    model, dataset = build(LEAN)
    model.train()
    prompts = model.build_prompts(prompt_samples(dataset), PromptMode.HYBRID)
    batch = ts.check_same_loss(model, prompts)
    with torch.no_grad():
        embeds = model.input_embeddings(batch)
    opt = ts.optimizer(model)
    steps = {"llara": ts.llara_step(model, prompts, opt, precision), "bare": ts.bare_step(model, batch, embeds, opt, precision)}
    for step in steps.values():
        step()  # warm-up
    wall, profiles = {}, {}
    for name, step in steps.items():
        t0 = time.process_time()
        profiles[name] = self_cpu_per_op(step, args.steps)
        wall[name] = (time.process_time() - t0) / args.steps
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    lines = [
        f"SmolLM2-135M LoRA step, LastFM val hybrid prompts, batch {len(prompts)}, {batch.n_tokens:,} tokens, "
        f"seq len {batch.input_ids.shape[1]}, precision {precision}, 1 thread, {args.steps} profiled steps each; "
        f"{cpu}; CPU-s per step under the profiler: llara {wall['llara']:.2f}, bare {wall['bare']:.2f} "
        f"(ratio {wall['llara'] / wall['bare']:.3f}).",
        "",
        *table(profiles["llara"], profiles["bare"], args.top),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
