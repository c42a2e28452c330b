"""The offline main job: synthetic catalogue -> SASRec -> three LLaRA variants -> table + plot.

Everything runs on the CPU with a tiny randomly initialised backbone, no files from outside and
no network. The three LLaRA variants share data, item encoder, backbone initialisation, seeds
and the number of optimiser steps; they differ only in their curriculum:

* ``text``: text-only prompts (constant p = 0; the projector is never used),
* ``hybrid``: hybrid prompts from the first step (constant p = 1, no curriculum),
* ``curriculum``: LLaRA's curriculum, p(t) = t/T.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console
from rich.table import Table

VARIANTS: dict[str, dict[str, Any]] = {
    "text": {"name": "constant", "params": {"p": 0.0}},
    "hybrid": {"name": "constant", "params": {"p": 1.0}},
    "curriculum": {"name": "linear", "params": {}},
}
#: A short template that ends with the history, so a 2-layer random model can learn within
#: minutes where the last item's tokens are; the real-data configs use LLaRA's templates.
TEMPLATE = "Candidates: [CansHere]. History: [HistoryHere]"
LABELS = {"text": "LLaRA text-only", "hybrid": "LLaRA hybrid", "curriculum": "LLaRA curriculum"}


class QuickstartConfig(BaseModel):
    """Sizes of the quickstart (defaults: under 5 minutes on 2 CPU cores)."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    n_items: int = 300
    n_train_users: int = 600
    n_test_users: int = 200
    sr_epochs: int = Field(15, gt=0)
    backbone: str = "tiny-random-llama"
    backbone_params: dict[str, Any] = Field(default_factory=lambda: {"hidden_size": 64, "num_layers": 2, "vocab_size": 1024})
    tuning: str = "full"
    projector_params: dict[str, Any] = Field(default_factory=dict)
    steps: int = Field(600, gt=0)
    batch_size: int = 16
    lr: float = 3e-3
    min_lr_ratio: float = Field(1.0, description="1 = constant lr after warm-up (a short run learns the hybrid route late)")
    hybrid_choice: str = Field("sample", description="curriculum draws per sample: a smoother signal for a short run")
    eval_seeds: list[int] = Field(default_factory=lambda: [0, 1, 2])
    generate: bool = True
    variants: list[str] = Field(default_factory=lambda: list(VARIANTS))


def variant_config(q: QuickstartConfig, variant: str, data: Path, sasrec: Path, titles: Path, run_dir: Path) -> dict[str, Any]:
    """The experiment config (raw mapping) of one variant; also written as YAML for `llara train`."""
    return {
        "name": f"quickstart-{variant}",
        "data": {"path": str(data), "n_candidates": 20},
        "item_encoder": {"checkpoint": str(sasrec)},
        "projector": {"name": "mlp", "params": dict(q.projector_params)},
        "prompt_builder": {"name": "template", "params": {"templates": [TEMPLATE]}},
        "curriculum": VARIANTS[variant],
        "backbone": {"name": q.backbone, "params": {**q.backbone_params, "tokenizer_corpus": [str(titles)]}, "tuning": q.tuning},
        "training": {"seed": q.seed, "max_steps": q.steps, "batch_size": q.batch_size, "lr": q.lr, "min_lr_ratio": q.min_lr_ratio, "hybrid_choice": q.hybrid_choice, "log_every": 10, "out_dir": str(run_dir)},
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


def plot_training(runs: dict[str, Path], out: Path) -> Path:
    """Loss and p(t) (with the realised hybrid fraction) per variant, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for k, (variant, run) in enumerate(runs.items()):
        recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
        recs = [r for r in recs if "loss" in r]
        steps = [r["step"] for r in recs]
        colour = f"C{k}"
        ax1.plot(steps, [r["loss"] for r in recs], color=colour, label=LABELS[variant])
        ax2.plot(steps, [r["p_hybrid"] for r in recs], color=colour, label=f"p(t), {variant}")
        ax2.plot(steps, [r["hybrid_fraction"] for r in recs], color=colour, linestyle=":", label=f"hybrid share so far, {variant}")
    ax1.set(xlabel="optimiser step", ylabel="answer loss (nats/token)", title="training loss")
    ax2.set(xlabel="optimiser step", ylabel="probability", title="curriculum p(t)", ylim=(-0.05, 1.05))
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def run_quickstart(out: Path, q: QuickstartConfig | None = None, console: Console | None = None) -> dict[str, Any]:
    """Run the whole quickstart into ``out``; returns the results (also in results.json)."""
    from llara_core.config import validate_config
    from llara_core.data import Dataset
    from llara_core.data.synthetic import make_synthetic
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
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    console.rule("[bold]1. synthetic catalogue")
    data_dir = out / "data"
    dataset = make_synthetic(seed=q.seed, n_items=q.n_items, n_train_users=q.n_train_users, n_test_users=q.n_test_users)
    dataset.save(data_dir)
    dataset = Dataset.load(data_dir)
    titles = out / "titles.txt"
    titles.write_text("\n".join(dataset.titles) + "\n", encoding="utf-8")
    console.print(f"{dataset.n_items} items; train {len(dataset.split('train'))}, val {len(dataset.split('val'))}, test {len(dataset.split('test'))} samples -> {data_dir}")

    console.rule("[bold]2. SASRec (the behaviour encoder)")
    t0 = time.perf_counter()
    sasrec = out / "sasrec"
    train_item_encoder(dataset, SRTrainConfig(
        model="sasrec", epochs=q.sr_epochs, patience=q.sr_epochs, seed=q.seed, progress=True,
        # the quickstart's own recipe, fixed so its table does not move with the LLaRA-split defaults
        lr=3e-3, weight_decay=1e-4, schedule="constant", monitor="hr@1",
    ), sasrec)
    timings["sasrec_train_s"] = time.perf_counter() - t0
    encoder, _ = load_item_encoder(sasrec)
    rows = [
        _row("popularity", evaluate_scorer(baseline_scorer("popularity", dataset), dataset, "test", 20, q.eval_seeds)),
        _row("SASRec (alone)", evaluate_scorer(encoder_scorer(encoder), dataset, "test", 20, q.eval_seeds)),
    ]

    runs: dict[str, Path] = {}
    results: dict[str, Any] = {}
    for k, variant in enumerate(q.variants, 3):
        console.rule(f"[bold]{k}. {LABELS[variant]}: {q.steps} steps")
        run_dir = out / "runs" / variant
        raw = variant_config(q, variant, data_dir, sasrec, titles, run_dir)
        (out / "configs").mkdir(exist_ok=True)
        (out / "configs" / f"{variant}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        t0 = time.perf_counter()
        train(validate_config(raw), run_dir, console)
        timings[f"{variant}_train_s"] = time.perf_counter() - t0
        model = load_run(run_dir)
        t0 = time.perf_counter()
        res = evaluate(model, dataset, "test", q.eval_seeds, "both" if q.generate else "score", 20, None, 20)
        timings[f"{variant}_eval_s"] = time.perf_counter() - t0
        res.pop("rows")
        results[variant] = res
        rows.append(_row(LABELS[variant], res["scoring"], res.get("generation")))
        runs[variant] = run_dir

    plot = plot_training(runs, out / "training.png")
    timings["total_s"] = time.perf_counter() - t_start
    summary = {"config": q.model_dump(), "table": rows, "timings_s": timings, "plot": str(plot)}
    (out / "results.json").write_text(json.dumps({**summary, "llara": results}, indent=1) + "\n")
    print_table(console, rows, q)
    console.print(f"plot: {plot}\nresults: {out / 'results.json'}\nconfigs to rerun a variant: {out / 'configs'}")
    console.print(f"total {timings['total_s']:.0f} s")
    return summary


def print_table(console: Console, rows: list[dict[str, Any]], q: QuickstartConfig) -> None:
    table = Table(title=f"synthetic test split, 20 candidates, candidate seeds {q.eval_seeds} (mean; 95% bootstrap CI of HR@1)", title_justify="left")
    table.add_column("method", no_wrap=True)
    for col in ("HR@1", "95% CI", "HR@5", "NDCG@5", "MRR", "ValidRatio (gen)", "HR@1 (gen)"):
        table.add_column(col)
    for r in rows:
        ci = f"[{r['hr@1_ci'][0]:.3f}, {r['hr@1_ci'][1]:.3f}]"
        gen = (f"{r['valid_ratio']:.3f}", f"{r['gen_hr@1']:.3f}") if "valid_ratio" in r else ("-", "-")
        table.add_row(r["method"], f"{r['hr@1']:.3f}", ci, f"{r['hr@5']:.3f}", f"{r['ndcg@5']:.3f}", f"{r['mrr']:.3f}", *gen)
    (console if console.is_terminal else Console(width=120, file=console.file)).print(table)
    console.print("HR@1 etc.: candidates ranked by the log-likelihood of their title (always valid); (gen): greedy answers matched to titles.")
