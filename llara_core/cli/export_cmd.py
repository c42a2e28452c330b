"""``llara export RUN --out OUT [--merged]`` (or ``--merged OUT``): a run's model as a
self-contained artefact."""

from __future__ import annotations

import argparse
from pathlib import Path

from llara_core.cli.options import add_threads_argument, apply_threads
from llara_core.errors import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a run's model as a verified artefact (optionally with merged adapters)")
    p.add_argument("run_dir", type=Path, help="run folder written by `llara train` (or a model folder)")
    p.add_argument("--out", type=Path, help="new folder for the artefact")
    p.add_argument("--checkpoint", default="best", choices=("best", "last"))
    p.add_argument("--merged", nargs="?", const=True, default=False, metavar="OUT",
                   help="merge the LoRA adapters into the backbone (PEFT merge_and_unload) for serving; "
                        "--merged OUT is --merged --out OUT")
    add_threads_argument(p)
    p.set_defaults(func=run)


def output_folder(args: argparse.Namespace) -> Path:
    """The new artefact's folder: ``--out``, or the folder given to ``--merged``; one of them,
    not both (UsageError naming the flags)."""
    merged_out = Path(args.merged) if isinstance(args.merged, str) else None
    if merged_out is not None and args.out is not None:
        raise UsageError(f"--merged {merged_out} and --out {args.out}: give the new folder once (--merged OUT, or --merged --out OUT)")
    out = merged_out or args.out
    if out is None:
        raise UsageError("give the new folder: --out OUT (or --merged OUT)")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out}: exists and is not empty; choose a new folder")
    return out


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.model.artefact import MANIFEST, export_merged, from_pretrained, is_artefact

    apply_threads(args.threads)
    out = output_folder(args)
    source = args.run_dir if is_artefact(args.run_dir) else args.run_dir / args.checkpoint
    model = from_pretrained(source)
    if args.merged:
        export_merged(model, out)
    else:
        model.save_pretrained(out)
    Console().print(f"wrote {out} ({out / MANIFEST}); load with LLaRA.from_pretrained({str(out)!r})", highlight=False)
    return 0
