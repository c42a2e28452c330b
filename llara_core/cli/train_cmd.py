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
    launch = p.add_argument_group("launch (Fabric; also with --resume: a run saved under N processes resumes under M)")
    launch.add_argument("--accelerator", help="cpu, cuda, gpu, mps, auto (training.accelerator)")
    launch.add_argument("--devices", help="devices per node: a count, 'auto', or ids like 0,1 (training.devices)")
    launch.add_argument("--strategy", help="Fabric strategy: auto, ddp, ddp_spawn, ddp_fork (training.strategy; "
                        "sharding ones such as fsdp are refused: docs/scaling.md)")
    launch.add_argument("--num-nodes", type=int, help="machines (training.num_nodes)")
    add_threads_argument(p)
    p.set_defaults(func=run)


def launch_settings(args: argparse.Namespace) -> dict[str, object]:
    """The launch flags given on the command line, as ``training`` keys."""
    devices = args.devices
    if devices is not None and devices.isdigit():
        devices = int(devices)
    given = {"accelerator": args.accelerator, "devices": devices, "strategy": args.strategy, "num_nodes": args.num_nodes}
    return {k: v for k, v in given.items() if v is not None}


def run(args: argparse.Namespace) -> int:
    import signal

    from rich.console import Console

    from llara_core.config import load_config
    from llara_core.training.run import resume, train

    apply_threads(args.threads)
    console = Console()
    if args.resume:
        if args.config or args.override:
            raise LlaraError("--resume takes only the run folder: the run's own config is reused")
        summary = resume(args.resume, console, launch_settings(args))
        run_dir = args.resume
        if summary.get("already_finished"):
            return 0
    else:
        if args.config is None:
            raise LlaraError("give a CONFIG file or --resume RUN_DIR")
        launch = [f"training.{k}={v}" for k, v in launch_settings(args).items()]
        cfg = load_config(args.config, [*args.override, *launch])
        run_dir = args.out or cfg.training.out_dir
        summary = train(cfg, run_dir, console)
    if summary.get("interrupted"):  # the resume command was printed; 128 + signal, as a shell reports it
        signum = getattr(signal, summary.get("signal") or "SIGINT", signal.SIGINT)
        return 128 + int(signum)
    from llara_core.distributed import launched_child

    if launched_child():  # rank 0 reports
        return 0
    console.print(json.dumps(summary, indent=2))
    console.print(f"run folder: {run_dir}  (evaluate with `llara evaluate {run_dir}`)")
    return 0
