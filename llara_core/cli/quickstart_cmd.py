"""``llara quickstart [--out DIR]``: the offline main job on the embedded default."""

from __future__ import annotations

import argparse
from pathlib import Path

from llara_core.cli.options import add_threads_argument, apply_threads


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quickstart",
        help="offline demo: synthetic data with two signals, SASRec, three LLaRA variants, table + reading + plot",
    )
    p.add_argument("--out", type=Path, default=Path("llara-quickstart"), help="output folder (default ./llara-quickstart)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="optimiser steps per LLaRA variant")
    p.add_argument("--no-generate", action="store_true", help="skip the generation evaluation (scoring only)")
    p.add_argument("--no-validation", action="store_true", help="skip the validation curve during training (faster, no val panel data)")
    add_threads_argument(p, default=1, help="torch CPU threads (default 1: the tiny model gains little from more, "
                                            "and several threads slow down many times over on a busy core; 0 = torch's default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from llara_core.quickstart import QuickstartConfig, run_quickstart

    apply_threads(args.threads)
    overrides: dict = {"seed": args.seed, "generate": not args.no_generate}
    if args.steps:
        overrides["steps"] = args.steps
    if args.no_validation:
        overrides["val_every"] = None
    run_quickstart(args.out, QuickstartConfig(**overrides))
    return 0
