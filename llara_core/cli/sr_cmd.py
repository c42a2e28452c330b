"""``llara sr train | evaluate | import-llara``: sequential recommenders as item encoders."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llara_core.cli.options import add_threads_argument, apply_threads
from llara_core.errors import LlaraError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from llara_core.sr.trainer import SRTrainConfig

#: the names of ``llara_core.sr.baselines.BASELINES``, repeated here so that building the parser
#: imports no torch (a test checks that they agree)
BASELINES = ("random", "popularity")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sr", help="train, evaluate and import sequential recommenders (item encoders)")
    verbs = p.add_subparsers(dest="sr_command", metavar="VERB")

    t = verbs.add_parser("train", help="train an item encoder on a dataset's train split")
    t.add_argument("--data", required=True, type=Path, help="dataset folder (llara format)")
    t.add_argument("--model", required=True, help="registered item encoder, e.g. sasrec, gru4rec, caser")
    t.add_argument("--out", required=True, type=Path, help="output model folder")
    t.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="encoder hyper-parameter, e.g. --param dropout=0.2 (repeatable)")
    t.add_argument("--epochs", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--weight-decay", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--patience", type=int, help="epochs without val gain (--monitor) before stopping")
    t.add_argument("--schedule", choices=("constant", "cosine"), help="learning-rate schedule over --epochs")
    t.add_argument("--monitor", choices=("mrr", "hr@1", "ndcg@10"),
                   help="val metric that picks the kept epoch (default mrr)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--min-history", type=int,
                   help="train only on rows with at least this many history items (default 1, as data.min_history)")
    t.add_argument("--val-seeds", default="0,1,2,3,4",
                   help="persisted val candidate seeds whose mean metric drives early stopping")
    t.add_argument("--val-candidates", type=int, default=20)
    t.add_argument("--accelerator", default="auto", help="Fabric accelerator: auto, cpu, cuda, ...")
    add_threads_argument(t, default=1,
                         help="CPU threads for torch (default 1: small models gain little from more; 0 = torch's default)")
    t.add_argument("--max-minutes", type=float, help="stop after the epoch that passes this time")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=run_train)

    e = verbs.add_parser("evaluate", help="rank the persisted candidates with a model or a baseline")
    e.add_argument("model_dir", nargs="?", type=Path, help="model folder (omit with --baseline)")
    e.add_argument("--baseline", choices=BASELINES, help="evaluate a non-learned baseline instead")
    e.add_argument("--data", required=True, type=Path, help="dataset folder (llara format)")
    e.add_argument("--split", default="test", choices=("val", "test"))
    e.add_argument("--n-candidates", type=int, default=20)
    e.add_argument("--seeds", default="0,1,2,3,4", help="candidate seeds, comma-separated")
    e.add_argument("--out", type=Path, help="result JSON (default: in the model folder, or ./sr-eval-*.json)")
    add_threads_argument(e)
    e.set_defaults(func=run_evaluate)

    i = verbs.add_parser("import-llara", help="import LLaRA's released SASRec weights (safetensors)")
    i.add_argument("file", type=Path, help="e.g. sasrec_movielens.safetensors")
    i.add_argument("--out", required=True, type=Path, help="output model folder")
    i.add_argument("--dataset", help="name of the dataset the weights belong to (recorded only)")
    i.set_defaults(func=run_import)

    p.set_defaults(func=lambda args: p.print_help() or 2)


def _parse_params(items: list[str]) -> dict[str, Any]:
    import yaml

    params = {}
    for item in items:
        if "=" not in item:
            raise LlaraError(f"--param {item!r}: expected KEY=VALUE, e.g. --param dropout=0.2")
        key, value = item.split("=", 1)
        params[key.strip()] = yaml.safe_load(value)
    return params


def _one_line(exc: ValidationError, prefix: str) -> str:
    return "; ".join(f"{prefix}{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def _parse_seeds(text: str, flag: str = "--seeds") -> list[int]:
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as exc:
        raise LlaraError(f"{flag} {text!r}: expected comma-separated integers, e.g. 0,1,2,3,4") from exc
    if not seeds:
        raise LlaraError(f"{flag}: give at least one seed")
    return seeds


def train_config(args: argparse.Namespace) -> SRTrainConfig:
    """The validated :class:`SRTrainConfig` of ``llara sr train``'s arguments; an option left out
    (``None``) keeps the config's own default. A bad value is one LlaraError naming the field."""
    from pydantic import ValidationError

    from llara_core.slots import ITEM_ENCODERS
    from llara_core.sr.trainer import SRTrainConfig

    params = _parse_params(args.param)
    if args.model not in ITEM_ENCODERS:
        raise LlaraError(ITEM_ENCODERS.unknown_message(args.model))
    # --min-history absent: the config's default (its field takes no None)
    min_history = {} if args.min_history is None else {"min_history": args.min_history}
    try:
        ITEM_ENCODERS.validate_params(args.model, params)
        return SRTrainConfig(
            model=args.model, params=params, epochs=args.epochs, lr=args.lr,
            weight_decay=args.weight_decay, batch_size=args.batch_size, patience=args.patience,
            schedule=args.schedule, monitor=args.monitor,
            seed=args.seed, val_candidates=args.val_candidates,
            val_seeds=_parse_seeds(args.val_seeds, '--val-seeds'), accelerator=args.accelerator, max_minutes=args.max_minutes,
            threads=args.threads or None,
            progress=not args.no_progress,
            **min_history,
        )
    except ValidationError as exc:
        raise LlaraError(_one_line(exc, "")) from exc


def run_train(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.data.dataset import Dataset
    from llara_core.sr.trainer import train_item_encoder

    cfg = train_config(args)
    dataset = Dataset.load(args.data)
    result = train_item_encoder(dataset, cfg, args.out)
    Console().print(
        f"[bold]{args.model}[/] on {dataset.name}: kept epoch {result.best_epoch} of {result.epochs_run} "
        f"(best val {result.config.monitor}): val HR@1 {result.best_val['hr@1']:.4f}, "
        f"MRR {result.best_val['mrr']:.4f}; {result.seconds:.0f} s -> {result.folder}",
        highlight=False,
    )
    return 0


def _print_table(result: dict[str, Any], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from llara_core.sr.evaluate import METRICS

    table = Table(title=title, title_justify="left")
    for col in ("metric", "mean over seeds", "95% CI (bootstrap)", "seed min-max", "seed std"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for metric in METRICS:
        s = result["summary"][metric]
        table.add_row(metric.upper(), f"{s['mean']:.4f}",
                      f"[{s['ci_low']:.4f}, {s['ci_high']:.4f}]", f"{s['min']:.4f}-{s['max']:.4f}", f"{s['std']:.4f}")
    Console().print(table)


def run_evaluate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.data.dataset import Dataset
    from llara_core.sr.baselines import baseline_scorer
    from llara_core.sr.checkpoint import load_item_encoder
    from llara_core.sr.evaluate import encoder_scorer, evaluate_scorer

    if (args.model_dir is None) == (args.baseline is None):
        raise LlaraError("give either a MODEL_DIR or --baseline {random,popularity}, not both or neither")
    seeds = _parse_seeds(args.seeds)
    apply_threads(args.threads)
    dataset = Dataset.load(args.data)
    console = Console(stderr=True)
    if args.baseline:
        scorer, method = baseline_scorer(args.baseline, dataset), f"baseline:{args.baseline}"
        meta: dict[str, Any] = {"baseline": args.baseline}
        out = args.out or Path(f"sr-eval-{args.baseline}-{dataset.name}-{args.split}-n{args.n_candidates}.json")
    else:
        encoder, config = load_item_encoder(args.model_dir)
        if config["n_items"] != dataset.n_items:
            raise LlaraError(
                f"{args.model_dir}: the model scores {config['n_items']} items but {args.data} has "
                f"{dataset.n_items}; evaluate it on the dataset it was trained for"
            )
        if config.get("data_hash") not in (None, dataset.content_hash):
            console.print(f"[yellow]warning:[/] {args.model_dir} was trained on another version of "
                          f"{config.get('dataset')!r} (data hash differs)")
        scorer, method = encoder_scorer(encoder), config["component"]
        meta = {"model_dir": str(args.model_dir), "component": config["component"],
                "params": config.get("params"), "trained_on": config.get("data_hash")}
        out = args.out or args.model_dir / f"eval-{args.split}-n{args.n_candidates}.json"
    result = evaluate_scorer(scorer, dataset, args.split, args.n_candidates, seeds)
    result = {"method": method, **meta, "dataset": dataset.name, "data_hash": dataset.content_hash, **result}
    from llara_core.fileio import atomic_write_text

    atomic_write_text(out, json.dumps(result, indent=1) + "\n")
    _print_table(result, f"{method} on {dataset.name} {args.split}: {args.n_candidates} candidates, "
                         f"seeds {','.join(map(str, seeds))}, {result['samples']} samples")
    Console().print(f"result written to {out}", highlight=False)
    return 0


def run_import(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.sr.llara_weights import import_llara_sasrec

    folder = import_llara_sasrec(args.file, args.out, dataset=args.dataset)
    config = json.loads((folder / "config.json").read_text())
    Console().print(f"imported {args.file} as sasrec ({config['n_items']} items, params {config['params']}) "
                    f"-> {folder}", highlight=False)
    return 0
