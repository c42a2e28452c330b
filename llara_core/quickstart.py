"""The offline main job: synthetic catalogue -> SASRec -> three LLaRA variants -> table + plot.

Everything runs on the CPU with a tiny randomly initialised backbone, no files from outside and
no network. The three LLaRA variants share data, item encoder, backbone initialisation, seeds
and the number of optimiser steps; they differ only in their curriculum:

* ``text``: text-only prompts (constant p = 0; the projector is never used),
* ``hybrid``: hybrid prompts from the first step (constant p = 1, no curriculum),
* ``curriculum``: LLaRA's curriculum, p(t) = t/T.

The catalogue carries two signals (``llara_core.data.synthetic``): transitions between item
ids, which SASRec reads, and a per-user taste that shows only in title words: a test user's
taste items before its target are ids never seen in training. Besides the overall table the quickstart breaks HR@1
down by the signal of each test target, and prints a reading of the table: for the key pairs
of methods, whether the paired 95% bootstrap interval of the HR@1 difference excludes 0.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

from llara_core.fileio import atomic_open, atomic_write_json, atomic_write_text

VARIANTS: dict[str, dict[str, Any]] = {
    "text": {"name": "constant", "params": {"p": 0.0}},
    "hybrid": {"name": "constant", "params": {"p": 1.0}},
    "curriculum": {"name": "linear", "params": {}},
}
#: A short template that ends with the history, so a 2-layer random model can learn within
#: minutes where the last item's tokens are; the real-data configs use LLaRA's templates.
TEMPLATE = "Candidates: [CansHere]. History: [HistoryHere]"
LABELS = {"text": "LLaRA text-only", "hybrid": "LLaRA hybrid", "curriculum": "LLaRA curriculum"}
SASREC = "SASRec (alone)"
#: the signal groups of the breakdown (``synthetic_truth(...)["signal"]``), in display order
SIGNAL_LABELS = {"transition": "transition target", "taste": "taste-only target", "popularity": "popularity draw"}


class QuickstartConfig(BaseModel):
    """Sizes of the quickstart (defaults: under 5 minutes on one CPU core shared with another job)."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    n_items: int = 300
    n_train_users: int = 600
    n_val_users: int = 100
    n_test_users: int = 200
    p_taste: float = Field(0.3, ge=0, lt=1, description="share of taste steps in the synthetic walks")
    cold_frac: float = Field(0.2, ge=0, lt=1, description="share of each theme's items that only val/test users have")
    sr_epochs: int = Field(8, gt=0)
    backbone: str = "tiny-random-llama"
    backbone_params: dict[str, Any] = Field(default_factory=lambda: {"hidden_size": 64, "num_layers": 2, "vocab_size": 1024})
    tuning: str = "full"
    projector_params: dict[str, Any] = Field(default_factory=dict)
    steps: int = Field(300, gt=0)
    batch_size: int = 16
    lr: float = 3e-3
    min_lr_ratio: float = Field(1.0, description="1 = constant lr after warm-up (a short run learns the hybrid route late)")
    hybrid_choice: str = Field("sample", description="curriculum draws per sample: a smoother signal for a short run")
    precision: str = Field("32-true", description="fp32: on a CPU, bf16 autocast only adds casts to a model this small")
    val_every: int | None = Field(50, gt=0, description="validate (scoring HR@1 etc. on the val split) every N steps; null = never")
    val_samples: int | None = Field(None, gt=0, description="validate on the first N val samples (null = all)")
    eval_seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    generate: bool = True
    variants: list[str] = Field(default_factory=lambda: list(VARIANTS))


def variant_config(q: QuickstartConfig, variant: str, data: Path, sasrec: Path, titles: Path, run_dir: Path) -> dict[str, Any]:
    """The experiment config (raw mapping) of one variant; also written as YAML for `llara train`."""
    training = {
        "seed": q.seed, "max_steps": q.steps, "batch_size": q.batch_size, "lr": q.lr, "min_lr_ratio": q.min_lr_ratio,
        "hybrid_choice": q.hybrid_choice, "precision": q.precision, "log_every": 10, "out_dir": str(run_dir),
    }
    if q.val_every:
        val_every = min(q.val_every, q.steps)
        # every validation step is also a logging step, so each validation record carries its step
        training.update(log_every=math.gcd(10, val_every), val_every=val_every, val_samples=q.val_samples, val_seeds=[0], val_metric="hr@1")
    return {
        "name": f"quickstart-{variant}",
        "data": {"path": str(data), "n_candidates": 20},
        "item_encoder": {"checkpoint": str(sasrec)},
        "projector": {"name": "mlp", "params": dict(q.projector_params)},
        "prompt_builder": {"name": "template", "params": {"templates": [TEMPLATE]}},
        "curriculum": VARIANTS[variant],
        "backbone": {"name": q.backbone, "params": {**q.backbone_params, "tokenizer_corpus": [str(titles)]}, "tuning": q.tuning},
        "training": training,
        "evaluation": {"batch_size": 20, "seeds": q.eval_seeds},
    }


def _row(label: str, scoring: dict[str, Any], generation: dict[str, Any] | None = None) -> dict[str, Any]:
    s = scoring["summary"]
    row = {"method": label}
    for m in ("hr@1", "hr@5", "ndcg@5", "mrr"):
        row[m] = s[m]["mean"]
    row["hr@1_ci"] = [s["hr@1"]["ci_low"], s["hr@1"]["ci_high"]]
    if generation:
        g = generation["summary"]
        row["valid_ratio"] = g["valid_ratio"]["mean"]
        row["gen_hr@1"] = g["hr@1"]["mean"]
    return row


def _per_sample_hr1(per_seed: list[dict[str, list[float]]]) -> np.ndarray:
    """Each test sample's scoring HR@1 averaged over the candidate seeds."""
    return np.mean([np.asarray(p["hr@1"], dtype=np.float64) for p in per_seed], axis=0)


def breakdown(per_sample: dict[str, np.ndarray], signal: list[str]) -> dict[str, dict[str, Any]]:
    """method -> signal -> {n, hr@1, ci_low, ci_high}: HR@1 of the test samples of each signal."""
    from llara_core.evaluation.stats import with_interval

    sig = np.asarray(signal)
    out: dict[str, dict[str, Any]] = {}
    for method, values in per_sample.items():
        out[method] = {}
        for s in SIGNAL_LABELS:
            v = values[sig == s]
            if len(v):
                w = with_interval(v)
                out[method][s] = {"n": int(len(v)), "hr@1": w["value"], "ci_low": w["ci_low"], "ci_high": w["ci_high"]}
    return out


def _verdict(a: str, b: str, d: dict[str, float]) -> str:
    num = f"{d['difference']:+.2f} [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}]"
    if d["ci_low"] > 0:
        return f"{a} beats {b}: {num}"
    if d["ci_high"] < 0:
        return f"{a} trails {b}: {num}"
    return f"{a} vs {b}: no difference the intervals support ({num})"


def reading(per_sample: dict[str, np.ndarray], signal: list[str]) -> dict[str, Any]:
    """The key paired comparisons of scoring HR@1 (difference, 95% bootstrap interval) and
    one plain sentence each: overall for the curriculum and hybrid pairs, and for each LLaRA
    row against SASRec also on the transition and the taste-only targets."""
    from llara_core.evaluation.stats import paired_difference

    sig = np.asarray(signal)
    comparisons: list[dict[str, Any]] = []
    lines: list[str] = []

    def compare(a: str, b: str, subset: str | None = None) -> dict[str, Any]:
        mask = np.ones(len(sig), dtype=bool) if subset is None else sig == subset
        d = paired_difference(per_sample[a][mask], per_sample[b][mask])
        entry = {"a": a, "b": b, "subset": subset or "all", **d, "excludes_0": bool(d["ci_low"] > 0 or d["ci_high"] < 0)}
        comparisons.append(entry)
        return entry

    present = [v for v in LABELS.values() if v in per_sample]
    pairs = [(LABELS["hybrid"], LABELS["text"]), (LABELS["curriculum"], LABELS["hybrid"]), (LABELS["curriculum"], LABELS["text"])]
    for a, b in pairs:
        if a in per_sample and b in per_sample:
            lines.append(_verdict(a, b, compare(a, b)))
    for a in present:
        overall = compare(a, SASREC)
        parts = [_verdict(a, SASREC, overall)]
        for s, name in (("transition", "transition targets"), ("taste", "taste-only targets")):
            if (sig == s).sum() >= 2:
                d = compare(a, SASREC, s)
                word = "better" if d["ci_low"] > 0 else "worse" if d["ci_high"] < 0 else "no supported difference"
                parts.append(f"on {name} {d['difference']:+.2f} [{d['ci_low']:+.2f}, {d['ci_high']:+.2f}] ({word})")
        lines.append("; ".join(parts))
    # the paper's claim of complementary strengths, as this run's intervals see it
    by = {(c["a"], c["subset"]): c for c in comparisons if c["b"] == SASREC}
    wins_taste = [a for a in present if (a, "taste") in by and by[(a, "taste")]["ci_low"] > 0]
    sasrec_transition = all((a, "transition") in by and by[(a, "transition")]["ci_high"] < 0 for a in present)
    if wins_taste and sasrec_transition:
        lines.append(f"complementary strengths shown: {', '.join(wins_taste)} beat(s) SASRec on taste-only targets while SASRec wins on transition targets")
    elif present and (sig == "taste").any():
        taste = [float(per_sample[a][sig == "taste"].mean()) for a in present]
        lines.append(f"complementary strengths not shown: no LLaRA row beats SASRec on taste-only targets "
                     f"(their HR@1 there {min(taste):.2f}-{max(taste):.2f}; chance 1/20 = 0.05)")
    return {"metric": "scoring hr@1", "comparisons": comparisons, "lines": lines}


def _metrics(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]


def plot_training(runs: dict[str, Path], out: Path, val_reference: dict[str, float] | None = None) -> Path:
    """Three panels per variant: training loss, validation HR@1 (scoring) over the steps, and
    p(t) with the realised hybrid share; one legend outside the axes. ``val_reference`` draws
    horizontal lines (e.g. SASRec's val HR@1 on the same candidates)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.2), layout="constrained")
    handles: list[Any] = []
    for k, (variant, run) in enumerate(runs.items()):
        recs = _metrics(run)
        train_recs = [r for r in recs if "loss" in r]
        val_recs = [r for r in recs if "val_hr@1" in r and "step" in r]
        steps = [r["step"] for r in train_recs]
        colour = f"C{k}"
        ax1.plot(steps, [r["loss"] for r in train_recs], color=colour)
        if val_recs:
            ax2.plot([r["step"] for r in val_recs], [r["val_hr@1"] for r in val_recs], color=colour, marker="o", markersize=3)
        ax3.plot(steps, [r["p_hybrid"] for r in train_recs], color=colour)
        ax3.plot(steps, [r["hybrid_fraction"] for r in train_recs], color=colour, linestyle=":")
        handles.append(Line2D([], [], color=colour, label=LABELS[variant]))
    for j, (name, value) in enumerate((val_reference or {}).items()):
        style = ("--", "-.", ":")[j % 3]
        ax2.axhline(value, color="grey", linestyle=style, linewidth=1)
        handles.append(Line2D([], [], color="grey", linestyle=style, linewidth=1, label=f"{name}, val"))
    handles += [
        Line2D([], [], color="black", label="p(t) (right panel)"),
        Line2D([], [], color="black", linestyle=":", label="hybrid share so far (right panel)"),
    ]
    ax1.set(xlabel="optimiser step", ylabel="answer loss (nats/token)", title="training loss")
    ax2.set(xlabel="optimiser step", ylabel="HR@1, 20 candidates", title="validation HR@1 (likelihood scoring)", ylim=(-0.02, 1.02))
    ax3.set(xlabel="optimiser step", ylabel="probability", title="curriculum p(t)", ylim=(-0.05, 1.05))
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    fig.legend(handles=handles, loc="outside right upper", fontsize=9, frameon=False)
    with atomic_open(out, "wb", encoding=None) as fh:
        fig.savefig(fh, dpi=100, format="png")
    plt.close(fig)
    return out


def run_quickstart(out: Path, q: QuickstartConfig | None = None, console: Console | None = None) -> dict[str, Any]:
    """Run the whole quickstart into ``out``; returns the results (also in results.json)."""
    from llara_core.config import validate_config
    from llara_core.data import Dataset
    from llara_core.data.synthetic import make_synthetic, synthetic_truth
    from llara_core.evaluation.engine import evaluate
    from llara_core.model.compose import load_run
    from llara_core.sr.baselines import baseline_scorer
    from llara_core.sr.checkpoint import load_item_encoder
    from llara_core.sr.evaluate import encoder_scorer, evaluate_scorer
    from llara_core.sr.trainer import SRTrainConfig, train_item_encoder
    from llara_core.training.run import train

    q = q or QuickstartConfig()
    console = console or Console()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    timings: dict[str, float] = {}

    console.rule("[bold]1. synthetic catalogue")
    data_dir = out / "data"
    data_params = {
        "seed": q.seed, "n_items": q.n_items, "n_train_users": q.n_train_users, "n_val_users": q.n_val_users,
        "n_test_users": q.n_test_users, "p_taste": q.p_taste, "cold_frac": q.cold_frac,
    }
    dataset = make_synthetic(**data_params)
    signal = synthetic_truth(**data_params)["signal"]["test"]
    dataset.save(data_dir)
    dataset = Dataset.load(data_dir)
    titles = out / "titles.txt"
    atomic_write_text(titles, "\n".join(dataset.titles) + "\n")
    counts = {s: signal.count(s) for s in SIGNAL_LABELS}
    console.print(
        f"{dataset.n_items} items; train {len(dataset.split('train'))}, val {len(dataset.split('val'))}, test {len(dataset.split('test'))} samples -> {data_dir}\n"
        f"test targets by signal: {counts['transition']} transition, {counts['taste']} taste-only (the taste shows in cold history items, ids never seen in training), {counts['popularity']} popularity draws"
    )

    console.rule("[bold]2. SASRec (the behaviour encoder)")
    t0, c0 = time.perf_counter(), time.process_time()
    sasrec = out / "sasrec"
    train_item_encoder(dataset, SRTrainConfig(
        model="sasrec", epochs=q.sr_epochs, patience=q.sr_epochs, seed=q.seed, progress=True,
        # the quickstart's own recipe, fixed so its table does not move with the LLaRA-split defaults
        lr=3e-3, weight_decay=1e-4, schedule="constant", monitor="hr@1",
    ), sasrec)
    timings["sasrec_train_s"], timings["sasrec_train_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
    encoder, _ = load_item_encoder(sasrec)
    scored = {
        "popularity": evaluate_scorer(baseline_scorer("popularity", dataset), dataset, "test", 20, q.eval_seeds),
        SASREC: evaluate_scorer(encoder_scorer(encoder), dataset, "test", 20, q.eval_seeds),
    }
    rows = [_row(label, res) for label, res in scored.items()]
    per_sample = {label: _per_sample_hr1(list(res["per_sample"].values())) for label, res in scored.items()}
    val_reference = {}
    if q.val_every:
        val_sr = evaluate_scorer(encoder_scorer(encoder), dataset, "val", 20, [0], n_boot=10)
        val_reference[SASREC] = val_sr["summary"]["hr@1"]["mean"]
        val_reference["random (1/20)"] = 1 / 20

    runs: dict[str, Path] = {}
    results: dict[str, Any] = {}
    for k, variant in enumerate(q.variants, 3):
        console.rule(f"[bold]{k}. {LABELS[variant]}: {q.steps} steps")
        run_dir = out / "runs" / variant
        if run_dir.is_dir():  # a rerun into the same folder starts afresh (metrics.jsonl appends)
            shutil.rmtree(run_dir)
        raw = variant_config(q, variant, data_dir, sasrec, titles, run_dir)
        (out / "configs").mkdir(exist_ok=True)
        atomic_write_text(out / "configs" / f"{variant}.yaml", yaml.safe_dump(raw, sort_keys=False))
        t0, c0 = time.perf_counter(), time.process_time()
        train(validate_config(raw), run_dir, console)
        timings[f"{variant}_train_s"], timings[f"{variant}_train_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        model = load_run(run_dir, "last")  # every variant after the same number of steps
        t0, c0 = time.perf_counter(), time.process_time()
        res = evaluate(model, dataset, "test", q.eval_seeds, "both" if q.generate else "score", 20, None, 20)
        timings[f"{variant}_eval_s"], timings[f"{variant}_eval_cpu_s"] = time.perf_counter() - t0, time.process_time() - c0
        res.pop("rows")
        results[variant] = res
        rows.append(_row(LABELS[variant], res["scoring"], res.get("generation")))
        per_sample[LABELS[variant]] = _per_sample_hr1(res["per_sample"]["scoring"])
        runs[variant] = run_dir

    plot = plot_training(runs, out / "training.png", val_reference)
    by_signal = breakdown(per_sample, signal)
    read = reading(per_sample, signal)
    validation = {v: [{k: r[k] for k in r if k == "step" or k.startswith("val_")} for r in _metrics(run) if "val_hr@1" in r and "step" in r] for v, run in runs.items()}
    timings["total_s"], timings["total_cpu_s"] = time.perf_counter() - t_start, time.process_time() - cpu_start
    summary = {
        "config": q.model_dump(), "table": rows, "by_signal": by_signal, "reading": read, "validation": validation,
        "val_reference": val_reference, "test_signal_counts": counts, "timings_s": timings, "plot": str(plot),
    }
    atomic_write_json(out / "results.json", {**summary, "llara": results}, indent=1)
    print_table(console, rows, q)
    print_breakdown(console, by_signal)
    print_reading(console, read)
    console.print(f"plot: {plot}\nresults: {out / 'results.json'}\nconfigs to rerun a variant: {out / 'configs'}")
    console.print(f"total {timings['total_s']:.0f} s wall, {timings['total_cpu_s']:.0f} s CPU (this process, after start-up)")
    return summary


def _wide(console: Console) -> Console:
    return console if console.is_terminal else Console(width=120, file=console.file)


def print_table(console: Console, rows: list[dict[str, Any]], q: QuickstartConfig) -> None:
    table = Table(title=f"synthetic test split, 20 candidates, candidate seeds {q.eval_seeds} (mean; 95% bootstrap CI of HR@1)", title_justify="left")
    table.add_column("method", no_wrap=True)
    for col in ("HR@1", "95% CI", "HR@5", "NDCG@5", "MRR", "ValidRatio (gen)", "HR@1 (gen)"):
        table.add_column(col)
    for r in rows:
        ci = f"[{r['hr@1_ci'][0]:.3f}, {r['hr@1_ci'][1]:.3f}]"
        gen = (f"{r['valid_ratio']:.3f}", f"{r['gen_hr@1']:.3f}") if "valid_ratio" in r else ("-", "-")
        table.add_row(r["method"], f"{r['hr@1']:.3f}", ci, f"{r['hr@5']:.3f}", f"{r['ndcg@5']:.3f}", f"{r['mrr']:.3f}", *gen)
    _wide(console).print(table)
    console.print("HR@1 etc.: candidates ranked by the log-likelihood of their title (always valid); (gen): greedy answers matched to titles.")


def print_breakdown(console: Console, by_signal: dict[str, dict[str, Any]]) -> None:
    first = next(iter(by_signal.values()))
    table = Table(title="scoring HR@1 by the signal that produced the test target [95% bootstrap CI]", title_justify="left")
    table.add_column("method", no_wrap=True)
    for s in first:
        table.add_column(f"{SIGNAL_LABELS[s]} (n={first[s]['n']})")
    for method, groups in by_signal.items():
        table.add_row(method, *(f"{g['hr@1']:.3f} [{g['ci_low']:.2f}, {g['ci_high']:.2f}]" for g in groups.values()))
    _wide(console).print(table)
    console.print("transition: the target follows the successor graph between ids (SASRec's signal); taste-only: an item of the "
                  "user's taste theme, which the history shows only through cold items (ids no train user has), so only their "
                  "title words point to it.")


def print_reading(console: Console, read: dict[str, Any]) -> None:
    console.print("[bold]Reading[/bold] (scoring HR@1; difference of the first method minus the second, paired 95% bootstrap interval over test samples):")
    for line in read["lines"]:
        console.print(f"  - {line}", highlight=False, markup=False, soft_wrap=True)
