"""``llara config validate FILE...``: report every error of each config, exit non-zero if any."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="work with experiment configs")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    v = csub.add_parser("validate", help="validate YAML configs (all errors at once)")
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    v.add_argument("--check-paths", action="store_true",
                   help="also require the dataset folder and item encoder checkpoint to exist (as `llara train` does)")
    v.set_defaults(func=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from rich.console import Console

    from llara_core.config import load_config
    from llara_core.errors import ConfigError

    console = Console(highlight=False, soft_wrap=True)
    failed = 0
    for path in args.files:
        try:
            load_config(path, args.override, check_paths=args.check_paths)
        except ConfigError as exc:
            failed += 1
            console.print(f"[red]✗[/] {exc}")
        else:
            console.print(f"[green]✓[/] {path}: valid" + ("" if args.check_paths else " (paths not checked: --check-paths)"))
    return 1 if failed else 0
