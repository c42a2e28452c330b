"""Recompute the results tables and plots from the committed per-sample files (no retraining).

    python benchmarks/results/make_tables.py docs/results/lastfm [--out docs/results/lastfm/table.md]

Each row folder under the given results folder holds the row's ``eval.json`` (per-sample values
for every candidate seed; seeds scored later from the same checkpoint may sit beside it in
``eval-more-seeds.json`` and are pooled with them), and for trained rows ``metrics.jsonl``, ``train_summary.json`` and
``run_info.json``. Intervals are 95% percentile-bootstrap intervals of the seed-averaged
per-sample values (2,000 resamples, seed 0), the same as ``llara evaluate`` and ``llara sr
evaluate`` report; paired differences resample the same samples for both rows.
``--export RUNS_FOLDER`` first copies those small files from a table's run folders (as written
by ``run_table.py``) into the results folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llara_core.evaluation.stats import bootstrap_ci, paired_difference  # noqa: E402

SCORING = ("hr@1", "hr@5", "ndcg@5", "mrr")
SMALL_FILES = ("eval.json", "eval.csv", "metrics.jsonl", "train_summary.json", "run_info.json", "config.json", "config.resolved.json")
# re-scorings of a trained row, as `llara evaluate RUN --split test --mode score [...]` names them
EXTRA_EVALS = {
    "eval-text.json": ("eval/test-score-text.json", "titles only (--prompt-mode text)"),
    "eval-swap.json": ("eval/test-score-swap.json", "behaviour tokens of other users (--swap-behaviour)"),
    "eval-mean.json": ("eval/test-score-mean.json", "ranked by mean answer log-probs (--length-normalise)"),
    "eval-sum.json": ("eval/test-score-sum.json", "ranked by summed answer log-probs (--no-length-normalise)"),
}


GENERATION = "eval-generate.json"  # generation columns, where eval.json has none (`--mode generate`)
# more candidate seeds of the same checkpoint, scored later (`--seeds 3,4 --out eval/test-score-more-seeds.json`)
MORE_SEEDS = ("eval-more-seeds.json", "eval/test-score-more-seeds.json")
# what must agree between eval.json and the more-seeds file for their seeds to be pooled
SAME_EVALUATION = ("split", "n_candidates", "prompt_mode", "samples", "template_index", "shuffles")


def export(runs: Path, results: Path) -> None:
    """Copy every row's small result files (never checkpoints) into ``results``: the files above,
    ``eval/test-score.json`` (or ``test-both.json``) as ``eval.json`` where the row has no ``eval.json``
    of its own, and the re-scorings of :data:`EXTRA_EVALS`."""
    for row in sorted(p for p in runs.iterdir() if p.is_dir()):
        sources = {name: row / name for name in SMALL_FILES}
        for name in ("test-both.json", "test-score.json"):
            if not sources["eval.json"].is_file() and (row / "eval" / name).is_file():
                sources["eval.json"] = row / "eval" / name
        sources.update({name: row / src for name, (src, _) in EXTRA_EVALS.items()})
        sources[GENERATION] = row / "eval" / "test-generate.json"
        sources[MORE_SEEDS[0]] = row / MORE_SEEDS[1]
        for name, src in sources.items():
            if src.is_file():
                (results / row.name).mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, results / row.name / name)


def per_sample(result: dict[str, Any], family: str = "scoring") -> list[dict[str, np.ndarray]]:
    """Per-seed dicts of per-sample arrays, from an LLM or an SR result file."""
    ps = result["per_sample"]
    if family == "scoring" and isinstance(ps, dict) and "scoring" not in ps:  # llara sr evaluate
        return [{k: np.asarray(v, dtype=float) for k, v in ps[s].items()} for s in sorted(ps, key=int)]
    return [{k: np.asarray(v, dtype=float) for k, v in seed.items()} for seed in ps.get(family, [])]


def summary(seeds: list[dict[str, np.ndarray]], metric: str) -> dict[str, float]:
    per_seed = np.array([s[metric].mean() for s in seeds])
    avg = np.mean([s[metric] for s in seeds], axis=0)
    lo, hi = bootstrap_ci(avg)
    return {"mean": float(per_seed.mean()), "lo": lo, "hi": hi, "min": float(per_seed.min()), "max": float(per_seed.max()), "avg": avg}


def fmt(s: dict[str, float] | None) -> str:
    if s is None:
        return "–"
    return f"**{s['mean']:.3f}** [{s['lo']:.3f}, {s['hi']:.3f}] ({s['min']:.3f}–{s['max']:.3f})"


def scoring_seeds(folder: Path, result: dict[str, Any]) -> tuple[list[int], list[dict[str, np.ndarray]]]:
    """The row's candidate seeds and their per-sample arrays: eval.json's, then those of
    ``eval-more-seeds.json`` where present (same checkpoint and protocol, no seed twice)."""
    seeds, arrays = [int(x) for x in result["seeds"]], per_sample(result, "scoring")
    more_path = folder / MORE_SEEDS[0]
    if not more_path.is_file():
        return seeds, arrays
    more = json.loads(more_path.read_text())
    clash = [k for k in SAME_EVALUATION if result.get(k) != more.get(k)]
    mine, theirs = result.get("manifest", {}), more.get("manifest", {})
    clash += [f"manifest.{k}" for k in ("checkpoint", "config") if mine.get(k) != theirs.get(k)]
    twice = sorted(set(seeds) & {int(x) for x in more["seeds"]})
    if clash or twice:
        raise SystemExit(f"{more_path}: cannot pool with eval.json: " + (f"differs in {', '.join(clash)}" if clash else f"seeds {twice} in both"))
    return seeds + [int(x) for x in more["seeds"]], arrays + per_sample(more, "scoring")


def row_stats(folder: Path) -> dict[str, Any] | None:
    path = folder / "eval.json"
    if not path.is_file():
        return None
    result = json.loads(path.read_text())
    out: dict[str, Any] = {"scoring": {}, "generation": {}}
    out["seeds"], seeds = scoring_seeds(folder, result)
    out["per_seed"] = seeds
    for m in SCORING:
        out["scoring"][m] = summary(seeds, m)
    gen = per_sample(result, "generation")
    if not gen and (folder / GENERATION).is_file():
        gen = per_sample(json.loads((folder / GENERATION).read_text()), "generation")
        out["generation_seeds"] = json.loads((folder / GENERATION).read_text())["seeds"]
    if gen:
        out["generation"]["valid_ratio"] = summary([{"v": g["valid"]} for g in gen], "v")
        out["generation"]["hr@1"] = summary(gen, "hr@1")
    summary_file = folder / "train_summary.json"
    if summary_file.is_file():
        s = json.loads(summary_file.read_text())
        out["steps"] = s.get("global_step")
        out["seconds"] = s.get("seconds")
    info = folder / "run_info.json"
    if info.is_file():
        out["effective_batch"] = json.loads(info.read_text()).get("effective_batch")
    return out


def table(results: Path) -> tuple[str, dict[str, Any]]:
    rows = {p.name: row_stats(p) for p in sorted(results.iterdir()) if p.is_dir()}
    rows = {k: v for k, v in rows.items() if v is not None}
    lines = [
        "| row | scoring HR@1 | HR@5 | NDCG@5 | MRR | generation ValidRatio | generation HR@1 | steps (samples) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        sc, gen = r["scoring"], r["generation"]
        short = lambda s: "–" if s is None else f"{s['mean']:.3f} [{s['lo']:.3f}, {s['hi']:.3f}]"  # noqa: E731
        steps = f"{r['steps']} ({r['steps'] * (r.get('effective_batch') or 8):,})" if r.get("steps") else "–"
        lines.append(
            f"| {name} | {fmt(sc['hr@1'])} | {short(sc['hr@5'])} | {short(sc['ndcg@5'])} | {short(sc['mrr'])} | "
            f"{short(gen.get('valid_ratio'))} | {short(gen.get('hr@1'))} | {steps} |"
        )
    return "\n".join(lines), rows


def paired(rows: dict[str, Any], pairs: list[tuple[str, str]], metric: str = "hr@1") -> str:
    """Paired differences of ``metric`` on the candidate seeds both rows were evaluated on (the
    same users with the same candidate sets), each sample's value averaged over those seeds."""
    lines = [f"| {metric} difference | candidate seeds | mean [95% CI] | P(not better) |", "|---|---|---|---|"]
    for a, b in pairs:
        if a in rows and b in rows:
            shared = [x for x in rows[a]["seeds"] if x in rows[b]["seeds"]]
            if not shared:
                continue
            avg = {n: np.mean([rows[n]["per_seed"][rows[n]["seeds"].index(x)][metric] for x in shared], axis=0) for n in (a, b)}
            d = paired_difference(avg[a], avg[b])
            lines.append(
                f"| {a} − {b} | {','.join(map(str, shared))} | {d['difference']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] | "
                f"{d['p_not_greater']:.3f} |"
            )
    return "\n".join(lines)


def rescorings(results: Path, rows: dict[str, Any], metric: str = "hr@1") -> str:
    """Each re-scoring of a trained row against the row itself, on the seeds both share."""
    lines = [f"| row | test scored with | {metric} | row's own {metric}, same seeds | difference [95% CI] |", "|---|---|---|---|---|"]
    for name in rows:
        own = json.loads((results / name / "eval.json").read_text())
        for file, (_, label) in EXTRA_EVALS.items():
            path = results / name / file
            if not path.is_file():
                continue
            other = json.loads(path.read_text())
            shared = [i for i, s in enumerate(own["seeds"]) if s in other["seeds"]]
            a = per_sample(other)
            b = [per_sample(own)[i] for i in shared]
            sa, sb = summary(a, metric), summary(b, metric)
            d = paired_difference(sa["avg"], sb["avg"])
            seeds = ",".join(str(own["seeds"][i]) for i in shared)
            lines.append(
                f"| {name} | {label}, seeds {seeds} | {sa['mean']:.3f} [{sa['lo']:.3f}, {sa['hi']:.3f}] | {sb['mean']:.3f} | "
                f"{d['difference']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] |"
            )
    return "\n".join(lines) if len(lines) > 2 else ""


def curves(results: Path, names: list[str], out: Path) -> None:
    """Validation scoring HR@1 (mean over the val seeds) and training loss against steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for name in names:
        path = results / name / "metrics.jsonl"
        if not path.is_file():
            continue
        recs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        val = [(r["step"], r["val_hr@1"]) for r in recs if "val_hr@1" in r]
        loss = [(r["step"], r["loss"]) for r in recs if "loss" in r]
        if val:
            ax1.plot(*zip(*val), marker="o", label=name)
        if loss:
            steps, values = zip(*loss)
            k = max(1, len(values) // 40)  # a running mean keeps the curve readable
            smooth = np.convolve(values, np.ones(k) / k, mode="valid")
            ax2.plot(steps[k - 1 :], smooth, label=name)
    ax1.axhline(0.05, color="grey", linestyle=":", label="random (0.05)")
    ax1.set(xlabel="optimiser step", ylabel="val scoring HR@1 (mean over val seeds)", title="validation")
    ax2.set(xlabel="optimiser step", ylabel="training loss (running mean)", title="training loss")
    handles, labels = ax1.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right upper")
    fig.savefig(out, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--export", type=Path, metavar="RUNS_FOLDER")
    parser.add_argument("--out", type=Path, help="markdown file (default: RESULTS/table.md)")
    parser.add_argument("--pairs", default="", help="comma-separated a:b row pairs for paired differences")
    parser.add_argument("--pair-metrics", default="hr@1", help="comma-separated metrics of the paired differences (hr@1, hr@5, ndcg@5, mrr)")
    parser.add_argument("--curves", default="", help="comma-separated rows for the learning-curve plot")
    args = parser.parse_args(argv)
    if args.export:
        export(args.export, args.results)
    text, rows = table(args.results)
    parts = [text]
    pairs = [tuple(p.split(":")) for p in args.pairs.split(",") if p]
    if pairs:
        parts += [paired(rows, pairs, m) for m in args.pair_metrics.split(",")]
    extra = rescorings(args.results, rows)
    if extra:
        parts.append(extra)
    if args.curves:
        curves(args.results, args.curves.split(","), args.results / "curves.png")
        parts.append(f"![learning curves]({(args.results / 'curves.png').name})")
    out = args.out or args.results / "table.md"
    out.write_text("\n\n".join(parts) + "\n")
    print("\n\n".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
