"""``llara train CONFIG [--out RUN_DIR] [-o key=value ...]`` and ``llara train --resume RUN_DIR``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llara_core.cli.options import add_threads_argument, apply_threads
from llara_core.errors import LlaraError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train LLaRA from a YAML config, or resume a run")
    p.add_argument("config", nargs="?", type=Path, help="experiment YAML")
    p.add_argument("--out", type=Path, help="run folder (default: training.out_dir of the config)")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. -o training.max_steps=100 (repeatable)")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run from its last checkpoint")
    add_threads_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.config import load_config
    from llara_core.training.run import resume, train

    apply_threads(args.threads)
    console = Console()
    if args.resume:
        if args.config or args.override:
            raise LlaraError("--resume takes only the run folder: the run's own config is reused")
        summary = resume(args.resume, console)
        run_dir = args.resume
    else:
        if args.config is None:
            raise LlaraError("give a CONFIG file or --resume RUN_DIR")
        cfg = load_config(args.config, args.override)
        run_dir = args.out or cfg.training.out_dir
        if (Path(run_dir) / "last").exists():
            raise LlaraError(f"{run_dir} already holds a run; resume it with `llara train --resume {run_dir}` or pick another --out")
        summary = train(cfg, run_dir, console)
    console.print(json.dumps(summary, indent=2))
    console.print(f"run folder: {run_dir}  (evaluate with `llara evaluate {run_dir}`)")
    return 0
