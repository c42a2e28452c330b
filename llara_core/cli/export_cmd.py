"""``llara export RUN --out OUT [--merged]``: a run's model as a self-contained artefact."""

from __future__ import annotations

import argparse
from pathlib import Path

from llara_core.cli.options import add_threads_argument, apply_threads


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a run's model as a verified artefact (optionally with merged adapters)")
    p.add_argument("run_dir", type=Path, help="run folder written by `llara train` (or a model folder)")
    p.add_argument("--out", type=Path, required=True, help="new folder for the artefact")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--merged", action="store_true", help="merge the LoRA adapters into the backbone (PEFT merge_and_unload) for serving")
    add_threads_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.errors import LlaraError
    from llara_core.model.artefact import MANIFEST, export_merged, from_pretrained, is_artefact

    apply_threads(args.threads)
    source = args.run_dir if is_artefact(args.run_dir) else args.run_dir / args.checkpoint
    model = from_pretrained(source)
    if args.merged:
        export_merged(model, args.out)
    else:
        if args.out.exists() and any(args.out.iterdir()):
            raise LlaraError(f"{args.out}: exists and is not empty; choose a new folder")
        model.save_pretrained(args.out)
    Console().print(f"wrote {args.out} ({args.out / MANIFEST}); load with LLaRA.from_pretrained({str(args.out)!r})", highlight=False)
    return 0
