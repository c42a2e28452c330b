"""``llara quickstart [--out DIR]``: the offline main job on the embedded default."""

from __future__ import annotations

import argparse
from pathlib import Path

from llara_core.cli.options import add_threads_argument, apply_threads


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quickstart", help="offline demo: synthetic data, SASRec, three LLaRA variants, table + plot")
    p.add_argument("--out", type=Path, default=Path("llara-quickstart"), help="output folder (default ./llara-quickstart)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="optimiser steps per LLaRA variant")
    p.add_argument("--no-generate", action="store_true", help="skip the generation evaluation (scoring only)")
    add_threads_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from llara_core.quickstart import QuickstartConfig, run_quickstart

    apply_threads(args.threads)
    overrides = {"seed": args.seed, "generate": not args.no_generate}
    if args.steps:
        overrides["steps"] = args.steps
    run_quickstart(args.out, QuickstartConfig(**overrides))
    return 0
