"""``llara evaluate``, ``llara recommend`` and ``llara compare``."""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llara_core.cli.options import add_threads_argument, apply_threads
from llara_core.errors import LlaraError, OutOfMemoryError, is_out_of_memory

if TYPE_CHECKING:
    from rich.console import Console


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise LlaraError(f"--seeds: expected comma-separated integers, got {text!r}") from exc


def add_parser(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("evaluate", help="evaluate a trained run (or a zero-shot LLM) on persisted candidates")
    e.add_argument("run_dir", nargs="?", type=Path, help="run folder written by `llara train`")
    e.add_argument("--checkpoint", default="best", choices=("best", "last"))
    e.add_argument("--zero-shot", action="store_true", help="evaluate the untuned backbone with text prompts")
    e.add_argument("--backbone", help="backbone name for --zero-shot (e.g. smollm2-135m)")
    e.add_argument("--data", type=Path, help="dataset folder (default: the run's)")
    e.add_argument("--split", default="test", choices=("val", "test"))
    e.add_argument("--mode", default="both", choices=("generate", "score", "both"))
    e.add_argument("--seeds", default="0", help="candidate seeds, e.g. 0,1,2,3,4")
    e.add_argument("--n-candidates", type=int, help="default: the run's data.n_candidates (20)")
    e.add_argument("--prompt-mode", choices=("text", "hybrid", "behaviour"), help="default: what the run trained for")
    e.add_argument("--swap-behaviour", action="store_true",
                   help="give every sample another user's behaviour tokens (same titles): does the model read them?")
    e.add_argument("--batch-size", type=int, default=8)
    e.add_argument("--max-new-tokens", type=int, default=64)
    e.add_argument("--length-normalise", action=argparse.BooleanOptionalAction, default=None,
                   help="rank by the mean (not the sum) of answer log-probs; default: as the run was trained "
                   "(mean after a listwise objective with listwise_length_normalise, else sum; zero-shot: sum)")
    e.add_argument("--shuffles", type=int, default=1, help="evaluate each candidate list in this many orders")
    e.add_argument("--template", type=int, default=0, help="prompt template index")
    e.add_argument("--limit", type=int, help="only the first N samples")
    e.add_argument("--out", type=Path, help="result JSON (default: RUN_DIR/eval/<split>-<mode>.json)")
    e.add_argument("--allow-encoder-mismatch", action="store_true",
                   help="evaluate with the run's own copy of its item encoder even if the folder it was trained from changed")
    add_threads_argument(e)
    e.set_defaults(func=run_evaluate)

    r = sub.add_parser("recommend", help="rank candidates for a history with a trained run")
    r.add_argument("run_dir", type=Path)
    r.add_argument("--history", nargs="+", required=True, help="item ids or titles, oldest first")
    r.add_argument("--candidates", nargs="+", required=True, help="item ids or titles")
    r.add_argument("--checkpoint", default="best", choices=("best", "last"))
    r.add_argument("--prompt-mode", choices=("text", "hybrid", "behaviour"))
    r.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_threads_argument(r)
    r.set_defaults(func=run_recommend)

    c = sub.add_parser("compare", help="paired differences between two result files on the same candidates")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    c.add_argument("--family", choices=("scoring", "generation"), default="scoring")
    c.set_defaults(func=run_compare)


# ---------------------------------------------------------------------- evaluate
def _fmt(entry: dict[str, float]) -> tuple[str, str, str]:
    ci = f"[{entry['ci_low']:.4f}, {entry['ci_high']:.4f}]" if "ci_low" in entry else ""
    return f"{entry['mean']:.4f}", ci, f"{entry['min']:.4f}-{entry['max']:.4f}"


def print_result(console: Console, result: dict[str, Any], title: str) -> None:
    from rich.table import Table

    names = {
        "hr@1": "HR@1", "hr@5": "HR@5", "hr@10": "HR@10", "ndcg@5": "NDCG@5", "ndcg@10": "NDCG@10", "mrr": "MRR",
    }
    gen_names = {
        "valid_ratio": "ValidRatio", "hr@1": "HR@1 (correct/all)", "hr@1_valid": "HR@1 over valid (correct/valid)",
        "reference_valid_ratio": "ValidRatio, reference substring rule", "reference_hr@1": "HR@1 (correct/all), reference rule",
        "ambiguous": "ambiguous answers (substring titles), count",
    }
    for family, labels in (("scoring", names), ("generation", gen_names)):
        if family not in result:
            continue
        table = Table(title=f"{title} — {family}", title_justify="left")
        for col in ("metric", "mean over seeds", "95% CI (bootstrap)", "seed min-max"):
            table.add_column(col)
        for key, label in labels.items():
            if key in result[family]["summary"]:
                table.add_row(label, *_fmt(result[family]["summary"][key]))
        console.print(table)
        console.print(f"  {result[family]['seconds_per_sample'] * 1000:.1f} ms per sample ({family})")


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    fields: list[str] = []
    for r in rows:
        fields += [k for k in r if k not in fields]
    from llara_core.fileio import atomic_open

    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def run_evaluate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.data import Dataset
    from llara_core.evaluation.engine import evaluate
    from llara_core.evaluation.manifest import evaluation_manifest
    from llara_core.model.artefact import check_dataset, check_encoder_source
    from llara_core.model.compose import RESOLVED_FILE, build_zero_shot, load_run

    apply_threads(args.threads)
    console = Console()
    seeds = _seeds(args.seeds)
    for flag, value, low in (("--batch-size", args.batch_size, 1), ("--max-new-tokens", args.max_new_tokens, 1),
                             ("--shuffles", args.shuffles, 1), ("--template", args.template, 0),
                             ("--limit", args.limit, 1), ("--n-candidates", args.n_candidates, 2)):
        if value is not None and value < low:
            raise LlaraError(f"{flag} {value}: expected an integer >= {low}")
    t0 = time.perf_counter()
    if args.zero_shot:
        if not (args.backbone and args.data):
            raise LlaraError("--zero-shot needs --backbone NAME and --data DIR")
        dataset = Dataset.load(args.data)
        model = build_zero_shot(args.backbone, dataset)
        config = {"zero_shot": True, "backbone": {"name": args.backbone}}
        n_candidates = args.n_candidates or 20
        out = args.out or Path(f"zero-shot-{args.backbone}-{dataset.name}-{args.split}-{args.mode}.json")
    else:
        if args.run_dir is None:
            raise LlaraError("give a RUN_DIR (or --zero-shot --backbone NAME --data DIR)")
        model = load_run(args.run_dir, args.checkpoint)
        if not args.allow_encoder_mismatch:
            check_encoder_source(model)
        dataset = Dataset.load(args.data or model.config.data.path)
        check_dataset(model, dataset)
        config = json.loads((args.run_dir / RESOLVED_FILE).read_text())
        n_candidates = args.n_candidates or model.config.data.n_candidates
        variant = (f"-{args.prompt_mode}" if args.prompt_mode else "") + ("-swap" if args.swap_behaviour else "")
        out = args.out or args.run_dir / "eval" / f"{args.split}-{args.mode}{variant}.json"
    length_normalise = args.length_normalise
    if length_normalise is None:
        length_normalise = model.config.scoring_length_normalise() if hasattr(model, "config") else False
    prompt_mode = args.prompt_mode or (model.config.evaluation.prompt_mode if hasattr(model, "config") else None)
    with console.status("evaluating...") as status:
        done = [0]

        def tick() -> None:
            done[0] += 1
            message = f"evaluating... {done[0]}/{len(seeds) * args.shuffles} candidate sets"
            status.update(message)
            if not console.is_terminal:  # logs get one line per finished set instead of a spinner
                console.log(message, highlight=False)

        try:
            result = evaluate(
                model, dataset, args.split, seeds, args.mode, n_candidates, prompt_mode, args.batch_size,
                args.max_new_tokens, length_normalise, args.shuffles, args.template, args.limit, progress=tick,
                swap_behaviour=args.swap_behaviour,
            )
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            raise OutOfMemoryError(
                f"out of memory while evaluating ({type(exc).__name__}); lower --batch-size (now {args.batch_size}, "
                f"generation), --n-candidates (now {n_candidates}) or --max-new-tokens (now {args.max_new_tokens})"
            ) from exc
    result["manifest"] = evaluation_manifest(model, dataset, config, seeds, result["candidate_sha256"], time.perf_counter() - t0, {"checkpoint": None if args.zero_shot else args.checkpoint})
    from llara_core.fileio import atomic_write_text

    rows = result.pop("rows")
    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    write_rows(out.with_suffix(".csv"), rows)
    print_result(console, result, f"{args.split}, {n_candidates} candidates, seeds {args.seeds}, prompt {result['prompt_mode']}, {result['samples']} samples")
    console.print(f"results: {out} (per-sample rows: {out.with_suffix('.csv')})")
    return 0


# ---------------------------------------------------------------------- recommend
def resolve_items(tokens: list[str], titles: list[str], what: str) -> list[int]:
    lookup: dict[str, int] = {}
    for i, t in enumerate(titles):
        lookup.setdefault(t.casefold(), i)
    out = []
    for tok in tokens:
        if tok.isdigit():
            i = int(tok)
            if not 0 <= i < len(titles):
                raise LlaraError(f"--{what}: item id {i} outside the catalogue 0..{len(titles) - 1}")
            out.append(i)
        elif tok.casefold() in lookup:
            out.append(lookup[tok.casefold()])
        else:
            close = difflib.get_close_matches(tok, titles, n=3)
            raise LlaraError(f"--{what}: no item titled {tok!r}" + (f"; did you mean {', '.join(map(repr, close))}?" if close else ""))
    return out


def run_recommend(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from llara_core.model.compose import load_run

    apply_threads(args.threads)
    model = load_run(args.run_dir, args.checkpoint)
    history = resolve_items(args.history, model.titles, "history")
    candidates = resolve_items(args.candidates, model.titles, "candidates")
    if len(candidates) < 2:
        raise LlaraError(f"--candidates: give at least 2 items to rank (got {len(candidates)})")
    for k, c in enumerate(candidates):
        if c in candidates[:k]:
            raise LlaraError(f"--candidates: {args.candidates[k]!r} is item {c}, given twice ({model.titles[c]!r}); list each candidate once")
    from llara_core.model.llara import HISTORY_WINDOW

    if len(history) > HISTORY_WINDOW:
        raise LlaraError(f"--history: {len(history)} items; the model reads at most {HISTORY_WINDOW}: give the last {HISTORY_WINDOW}, oldest first")
    ranked = model.recommend(history, candidates, mode=args.prompt_mode)
    console = Console()
    if args.json:
        console.print_json(json.dumps([{"item": i, "title": model.titles[i], "score": s} for i, s in ranked]))
        return 0
    table = Table(title=f"candidates ranked for a history of {len(history)} items")
    for col in ("rank", "item", "title", "log-likelihood"):
        table.add_column(col)
    for k, (i, s) in enumerate(ranked, 1):
        table.add_row(str(k), str(i), model.titles[i], f"{s:.3f}")
    console.print(table)
    return 0


# ---------------------------------------------------------------------- compare
def per_sample(result: dict[str, Any], family: str) -> tuple[dict[str, dict[str, list[float]]], dict[str, str]]:
    """seed -> metric -> per-sample values (averaged over shuffles), from an LLM or SR result."""
    ps = result.get("per_sample")
    if ps is None:
        raise LlaraError("result has no per-sample values")
    if isinstance(ps, dict) and family in ps and isinstance(ps[family], list):  # LLM result
        runs = ps[family]
        if not runs:
            raise LlaraError(f"result has no {family} values (was it evaluated with --mode {family[:5]}...?)")
        seeds = result["seeds"]
        shuffles = result.get("shuffles", 1)
        import numpy as np

        out = {}
        for k, seed in enumerate(seeds):
            group = runs[k * shuffles : (k + 1) * shuffles]
            out[str(seed)] = {m: np.mean([g[m] for g in group], axis=0).tolist() for m in group[0]}
        return out, result["candidate_sha256"]
    if family != "scoring":
        raise LlaraError("sequential-recommender results only have scoring metrics")
    return ps, result["candidate_sha256"]


def run_compare(args: argparse.Namespace) -> int:
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from llara_core.evaluation.stats import paired_difference
    from llara_core.fileio import read_json

    parsed = []
    for path in (args.a, args.b):
        result = read_json(path, "a result file written by `llara evaluate` or `llara sr evaluate`")
        if not isinstance(result, dict) or "per_sample" not in result or "candidate_sha256" not in result:
            keys = ", ".join(list(result)[:6]) if isinstance(result, dict) else type(result).__name__
            raise LlaraError(f"{path}: not a result file of `llara evaluate` / `llara sr evaluate` (no per_sample and "
                             f"candidate_sha256; found {keys})")
        try:
            parsed.append(per_sample(result, args.family))
        except LlaraError as exc:
            raise LlaraError(f"{path}: {exc}") from None
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise LlaraError(f"{path}: malformed result file ({type(exc).__name__}: {exc})") from None
    (pa, ha), (pb, hb) = parsed
    shared = [s for s in pa if s in pb]
    if not shared:
        raise LlaraError("the two results share no candidate seed")
    bad = [s for s in shared if ha.get(s) != hb.get(s)]
    if bad:
        raise LlaraError(f"candidate sets differ for seeds {bad}: a paired comparison needs the same candidates")
    metrics = [m for m in pa[shared[0]] if m in pb[shared[0]]]
    table = Table(title=f"{args.a.name} minus {args.b.name} ({args.family}, seeds {', '.join(shared)})")
    for col in ("metric", "A", "B", "A - B", "95% CI", "P(A<=B) bootstrap"):
        table.add_column(col)
    for m in metrics:
        a = np.mean([pa[s][m] for s in shared], axis=0)
        b = np.mean([pb[s][m] for s in shared], axis=0)
        if a.shape != b.shape:
            raise LlaraError(f"{m}: {a.shape[0]} vs {b.shape[0]} samples; evaluate both on the same split")
        d = paired_difference(a, b)
        table.add_row(m, f"{a.mean():.4f}", f"{b.mean():.4f}", f"{d['difference']:+.4f}", f"[{d['ci_low']:+.4f}, {d['ci_high']:+.4f}]", f"{d['p_not_greater']:.3f}")
    Console().print(table)
    return 0
