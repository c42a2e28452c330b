"""``llara data ...``: import, prepare, generate, describe datasets and draw candidate sets."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from llara_core.errors import LlaraError

if TYPE_CHECKING:
    from rich.console import Console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="datasets: import, prepare, synthetic, stats, candidates")
    verbs = p.add_subparsers(dest="data_command", metavar="VERB")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    imp = verbs.add_parser(
        "import-llara", help="import LLaRA's pickled splits (needs --trust-pickle)"
    )
    imp.add_argument(
        "src",
        metavar="SRC_DIR",
        help="folder with train_data.df, Val_data.df, Test_data.df and titles",
    )
    imp.add_argument("--dataset", required=True, choices=["movielens", "lastfm", "steam"])
    imp.add_argument("--out", required=True, metavar="DIR")
    imp.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow unpickling (pickles can run arbitrary code: only for files you trust)",
    )
    imp.add_argument(
        "--min-len-seq", type=int, default=3, help="keep rows with len_seq >= this (LLaRA: 3)"
    )
    imp.set_defaults(func=run_import)

    prep = verbs.add_parser("prepare", help="rebuild a split from public raw files")
    kinds = prep.add_subparsers(dest="prepare_kind", metavar="KIND")
    prep.set_defaults(func=lambda args: prep.print_help() or 2)
    ml = kinds.add_parser("movielens", help="MovieLens-100K from u.data + u.item")
    ml.add_argument("--raw", required=True, metavar="RAW_DIR", help="folder with u.data and u.item")
    ml.add_argument("--out", required=True, metavar="DIR")
    ml.add_argument(
        "--split",
        choices=["reference", "random"],
        default="reference",
        help="reference: LLaRA's published val/test users; random: seeded 80/10/10 users",
    )
    ml.add_argument("--seed", type=int, default=0, help="seed of the random user split")
    ml.add_argument("--min-rating", type=float, default=3.0)
    ml.add_argument("--history-len", type=int, default=10)
    ml.add_argument(
        "--min-history",
        type=int,
        default=3,
        help="keep samples with at least this many history items",
    )
    ml.add_argument(
        "--keep-first-row",
        action="store_true",
        help="keep u.data's first rating (the reference lost it by reading it as a header)",
    )
    ml.set_defaults(func=run_prepare_movielens)

    csvp = kinds.add_parser("csv", help="an interactions CSV plus an items CSV")
    csvp.add_argument(
        "--interactions", required=True, metavar="F", help="CSV with user,item,timestamp[,rating]"
    )
    csvp.add_argument("--items", required=True, metavar="F", help="CSV with item,title[,text]")
    csvp.add_argument("--out", required=True, metavar="DIR")
    csvp.add_argument("--name", default=None, help="dataset name (default: the output folder name)")
    csvp.add_argument("--domain", default="item", choices=["movie", "music", "game", "item"])
    csvp.add_argument(
        "--split",
        choices=["user", "leave-last-out"],
        default="user",
        help="user: whole users to val/test; leave-last-out: each user's last two items",
    )
    csvp.add_argument("--val-frac", type=float, default=0.1)
    csvp.add_argument("--test-frac", type=float, default=0.1)
    csvp.add_argument("--seed", type=int, default=0)
    csvp.add_argument("--history-len", type=int, default=10)
    csvp.add_argument("--min-history", type=int, default=3)
    csvp.add_argument(
        "--min-rating", type=float, default=None, help="keep interactions rated >= this"
    )
    csvp.add_argument("--delimiter", default=",")
    csvp.add_argument("--encoding", default="utf-8")
    for col, default in (
        ("user", "user"),
        ("item", "item"),
        ("time", "timestamp"),
        ("rating", "rating"),
        ("title", "title"),
        ("text", "text"),
    ):
        csvp.add_argument(f"--{col}-col", default=default, help=f"column name (default {default})")
    csvp.set_defaults(func=run_prepare_csv)

    syn = verbs.add_parser(
        "synthetic", help="generate the synthetic catalogue (offline quickstart, tests)"
    )
    syn.add_argument("--out", required=True, metavar="DIR")
    syn.add_argument("--seed", type=int, default=0)
    syn.set_defaults(func=run_synthetic)

    st = verbs.add_parser("stats", help="rows, users, items, history lengths per split")
    st.add_argument("dir", metavar="DIR")
    st.add_argument("--json", action="store_true", help="print JSON instead of tables")
    st.set_defaults(func=run_stats)

    cmp = verbs.add_parser("compare", help="agreement of two datasets' splits (targets, histories)")
    cmp.add_argument("dir", metavar="DIR")
    cmp.add_argument("reference", metavar="REFERENCE_DIR")
    cmp.set_defaults(func=run_compare)

    cand = verbs.add_parser(
        "candidates", help="draw and persist candidate sets; prints their sha256"
    )
    cand.add_argument("dir", metavar="DIR")
    cand.add_argument("--split", default="test")
    cand.add_argument("--n", type=int, default=20, help="candidates per sample, target included")
    cand.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2,3,4")
    cand.add_argument(
        "--workers", type=int, default=1, help="processes drawing in parallel (same result)"
    )
    cand.set_defaults(func=run_candidates)


def _saved(console: Console, dataset, out: str) -> int:
    manifest = dataset.save(out)
    counts = ", ".join(f"{k} {v['rows']:,}" for k, v in manifest["splits"].items())
    console.print(
        f"wrote {out}: {dataset.n_items:,} items; {counts}; content hash {manifest['content_hash'][:16]}"
    )
    return 0


def run_import(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.data.llara_import import import_llara

    dataset = import_llara(
        args.src, args.dataset, trust_pickle=args.trust_pickle, min_len_seq=args.min_len_seq
    )
    return _saved(Console(soft_wrap=True), dataset, args.out)


def run_prepare_movielens(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.data.movielens import prepare_movielens

    dataset = prepare_movielens(
        args.raw,
        split=args.split,
        seed=args.seed,
        min_rating=args.min_rating,
        history_len=args.history_len,
        min_history=args.min_history,
        drop_first_row=not args.keep_first_row,
    )
    return _saved(Console(soft_wrap=True), dataset, args.out)


def run_prepare_csv(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from llara_core.data.csv_prepare import CsvOptions, prepare_csv

    options = CsvOptions(
        split=args.split,
        val_frac=args.val_frac,
        test_frac=args.test_frac,
        seed=args.seed,
        history_len=args.history_len,
        min_history=args.min_history,
        min_rating=args.min_rating,
        delimiter=args.delimiter,
        encoding=args.encoding,
        user_col=args.user_col,
        item_col=args.item_col,
        time_col=args.time_col,
        rating_col=args.rating_col,
        title_col=args.title_col,
        text_col=args.text_col,
    )
    name = args.name or Path(args.out).name
    dataset = prepare_csv(
        args.interactions, args.items, name=name, domain=args.domain, options=options
    )
    return _saved(Console(soft_wrap=True), dataset, args.out)


def run_synthetic(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.data.synthetic import make_synthetic

    return _saved(Console(soft_wrap=True), make_synthetic(seed=args.seed), args.out)


def run_stats(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from llara_core.data.dataset import Dataset
    from llara_core.data.stats import dataset_stats

    stats = dataset_stats(Dataset.load(args.dir))
    console = Console(soft_wrap=True)
    if args.json:
        console.print_json(json.dumps(stats))
        return 0
    console.print(
        f"{stats['name']}  domain {stats['domain']}  items {stats['n_items']:,}  "
        f"duplicate titles {stats['duplicate_titles']}  content hash {stats['content_hash'][:16]}"
    )
    table = Table(title_justify="left")
    for col in ("split", "rows", "users", "items", "targets", "history len min/mean/max"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for name, s in stats["splits"].items():
        h = s["history_len"]
        users = "-" if s["users"] is None else f"{s['users']:,}"
        table.add_row(
            name,
            f"{s['rows']:,}",
            users,
            f"{s['items']:,}",
            f"{s['targets']:,}",
            f"{h['min']} / {h['mean']:.2f} / {h['max']}",
        )
    console.print(table)
    for name, s in stats["splits"].items():
        dist = "  ".join(f"{k}:{v:,}" for k, v in s["history_len_counts"].items())
        console.print(f"{name} history lengths  {dist}", highlight=False)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from llara_core.data.compare import dataset_agreement
    from llara_core.data.dataset import Dataset

    report = dataset_agreement(Dataset.load(args.dir), Dataset.load(args.reference))
    console = Console(soft_wrap=True)
    console.print(f"same titles: {report['same_titles']}")
    table = Table(title_justify="left")
    for col in ("split", "rows", "same target", "same history", "same history set", "same sample"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for name, s in report["splits"].items():
        n = s["compared"]
        table.add_row(
            name,
            " / ".join(f"{r:,}" for r in s["rows"]),
            *(
                f"{s[k]:,} ({s[k] / n:.1%})"
                for k in ("same_target", "same_history", "same_history_set", "same_sample")
            ),
        )
    console.print(table)
    return 0


def _seeds(text: str) -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise LlaraError(
            f"--seeds {text!r}: expected comma-separated integers, e.g. 0,1,2,3,4"
        ) from None
    if not seeds:
        raise LlaraError("--seeds: expected at least one seed")
    return seeds


def run_candidates(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.data.candidates import candidate_key, recorded_entry, write_candidates
    from llara_core.data.dataset import Dataset

    seeds = _seeds(args.seeds)
    if args.n < 2:
        raise LlaraError(
            f"--n {args.n}: expected at least 2 candidates (the target plus negatives)"
        )
    dataset = Dataset.load(args.dir)
    dataset.split(args.split)
    if args.n > dataset.n_items:
        raise LlaraError(f"--n {args.n}: the catalogue of {args.dir} has only {dataset.n_items} items")
    if args.workers < 1:
        raise LlaraError(f"--workers {args.workers}: expected at least 1")
    console = Console(soft_wrap=True)
    code = 0
    for seed in seeds:
        key = candidate_key(args.split, args.n, seed)
        before, _ = recorded_entry(dataset, key)
        entry = write_candidates(dataset, args.split, args.n, seed, workers=args.workers)
        note = ""
        if (
            before
            and before.get("dataset_hash") == entry["dataset_hash"]
            and before["sha256"] != entry["sha256"]
        ):
            note = f"  [red]differs from the previously recorded {before['sha256'][:16]}[/]"
            code = 1
        console.print(
            f"{key}  {entry['rows']:,} rows  sha256 {entry['sha256']}{note}", highlight=False
        )
    return code
