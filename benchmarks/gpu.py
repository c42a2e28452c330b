"""One prepared GPU benchmark: a LoRA step and one-pass candidate scoring of Llama-shaped models.

Run on a machine with a CUDA GPU (needs only torch, transformers, peft and this repository):

    python benchmarks/gpu.py --out gpu-benchmark.json        # < 5 minutes

Models have random weights (no download) in two shapes: SmolLM2-135M's and a ~1.2B one
(Llama-3.2-1B's). Precision bf16, attention SDPA, LoRA r 8 on q,k,v,o,gate,up,down as in LLaRA.
For each shape it reports the train step time, tokens/s, and model-FLOPs utilisation against the
dense bf16 matmul rate it measures on the same card first; MFU counts 6 N FLOPs per token (the
usual convention) and, more honestly for LoRA on a frozen base, 4 N (forward + input gradients).
Scoring packs each prompt with 20 answers into one row under llara's 4D mask
(``llara_core.model.candidate_packing``) and reports samples/s. The GPU's name is in the JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llara_core.model.candidate_packing import build_rows, plan_passes  # noqa: E402
from llara_core.model.scoring import mask_for  # noqa: E402

SHAPES = {
    "smollm2-135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3, vocab_size=49152),
    "llama-1b": dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8, vocab_size=128256),
}
LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


DEVICE = "cuda"


def cuda_time(fn, warmup: int, reps: int) -> list[float]:
    """Seconds per call of ``fn`` measured with CUDA events (wall clock with ``--smoke``)."""
    for _ in range(warmup):
        fn()
    if DEVICE != "cuda":
        out = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return out
    torch.cuda.synchronize()
    out = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        out.append(start.elapsed_time(end) / 1000)
    return out


def matmul_rate(n: int = 8192) -> float:
    a = torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=DEVICE, dtype=torch.bfloat16)
    seconds = statistics.median(cuda_time(lambda: a @ b, 3, 10))
    return 2 * n**3 / seconds


def build(shape: dict) -> torch.nn.Module:
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(**shape, max_position_embeddings=4096, tie_word_embeddings=True)
    config._attn_implementation = "sdpa"
    with torch.device(DEVICE):
        model = LlamaForCausalLM(config).to(torch.bfloat16)
    lora = LoraConfig(r=8, lora_alpha=32, lora_dropout=0.0, target_modules=LORA_TARGETS, task_type="CAUSAL_LM")
    return get_peft_model(model, lora)


def train_step_stats(model, batch: int, seq: int, answer: int, reps: int) -> dict:
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, seq), device=DEVICE)
    targets = ids[:, seq - answer :]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step():  # the answer-token loss as llara computes it: logits only from the last prompt token on
        logits = model(input_ids=ids, logits_to_keep=answer + 1).logits[:, :-1].float()
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    seconds = statistics.median(cuda_time(step, 3, reps))
    n_params = sum(p.numel() for n, p in model.named_parameters() if "lora_" not in n)
    tokens = batch * seq
    return {"batch": batch, "seq": seq, "s_per_step": seconds, "tokens_per_s": tokens / seconds,
            "params": n_params, "flops_6n": 6 * n_params * tokens / seconds, "flops_4n": 4 * n_params * tokens / seconds,
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if DEVICE == "cuda" else None}


@torch.no_grad()
def scoring_stats(model, prompt_len: int, n_cands: int, answer_len: int, rows: int, reps: int) -> dict:
    vocab = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(0, vocab, (prompt_len,), generator=g).tolist() for _ in range(rows)]
    answers = [[torch.randint(0, vocab, (answer_len,), generator=g).tolist() for _ in range(n_cands)] for _ in range(rows)]
    plan, offsets = plan_passes(prompts, answers, None)
    packed = build_rows(prompts, answers, plan, offsets, 0).to(DEVICE)
    mask = mask_for(model, packed.segments, torch.bfloat16)

    def score():
        out = model(input_ids=packed.input_ids, attention_mask=mask, position_ids=packed.position_ids, logits_to_keep=packed.keep)
        logits = out.logits.reshape(-1, vocab).float()
        return logits[packed.gather_pos, packed.gather_token] - torch.logsumexp(logits, -1)[packed.gather_pos]

    seconds = statistics.median(cuda_time(score, 3, reps))
    return {"rows_per_pass": rows, "prompt_len": prompt_len, "candidates": n_cands, "answer_len": answer_len,
            "s_per_pass": seconds, "samples_per_s": rows / seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu-benchmark.json")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--smoke", action="store_true", help="check the script on the CPU with tiny shapes (numbers meaningless)")
    args = parser.parse_args()
    global DEVICE
    shapes = SHAPES
    if args.smoke:
        DEVICE = "cpu"
        shapes = {"smoke": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, vocab_size=512)}
        args.reps = 2
    elif not torch.cuda.is_available():
        print("no CUDA device: this benchmark needs a GPU (try --smoke to check the script on the CPU)", file=sys.stderr)
        return 2
    t0 = time.time()
    peak = matmul_rate(512 if args.smoke else 8192)
    name_of_device = torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu (smoke test)"
    result = {"gpu": name_of_device, "torch": torch.__version__, "bf16_matmul_tflops": peak / 1e12, "shapes": {}}
    print(f"{result['gpu']}: dense bf16 matmul {peak / 1e12:.1f} TFLOP/s")
    for name, shape in shapes.items():
        if DEVICE == "cuda":
            torch.cuda.reset_peak_memory_stats()
        model = build(shape)
        train = train_step_stats(model, batch=8, seq=320, answer=8, reps=args.reps)
        train["mfu_6n"], train["mfu_4n"] = train["flops_6n"] / peak, train["flops_4n"] / peak
        model.eval()
        score = scoring_stats(model, prompt_len=200, n_cands=20, answer_len=5, rows=8, reps=args.reps)
        result["shapes"][name] = {"train_step": train, "scoring": score}
        peak_mem = f"{train['peak_gib']:.1f} GiB" if train["peak_gib"] is not None else "n/a"
        print(f"{name}: step {train['s_per_step'] * 1000:.1f} ms, {train['tokens_per_s']:.0f} tok/s, "
              f"MFU {train['mfu_6n']:.1%} (6N) / {train['mfu_4n']:.1%} (4N), peak {peak_mem}; "
              f"scoring {score['samples_per_s']:.0f} samples/s (20 candidates, 8 per pass)")
        del model
        if DEVICE == "cuda":
            torch.cuda.empty_cache()
    result["wall_s"] = time.time() - t0
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out} in {result['wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
