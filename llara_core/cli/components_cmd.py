"""``llara components [SLOT]``: every registered component with its distribution and summary."""

from __future__ import annotations

import argparse
import json

from llara_core.errors import LlaraError
from llara_core.slots import SLOTS, get_slot


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("components", help="list registered components per slot")
    p.add_argument("slot", nargs="?", help=f"one of: {', '.join(SLOTS)}")
    p.add_argument("--describe", metavar="NAME", help="show one component's params schema (needs SLOT)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Lists from metadata and module source (see ``Registry.brief``): no plugin is imported
    unless its source cannot tell; ``--describe`` reads a params entry point when declared."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if args.describe:
        if not args.slot:
            raise LlaraError("--describe needs a SLOT, e.g. `llara components projectors --describe mlp`")
        console.print_json(json.dumps(get_slot(args.slot).describe(args.describe)))
        return 0
    registries = [get_slot(args.slot)] if args.slot else list(SLOTS.values())
    for registry in registries:
        table = Table(title=f"{registry.slot}  [dim]({registry.group})[/]", title_justify="left")
        for col in ("name", "distribution", "version", "summary"):
            table.add_column(col)
        for name in registry.names():
            try:
                info = registry.brief(name)
                dist, version = info["distribution"], info["version"] or ""
                summary = info["summary"]
                if info["preset_of"]:
                    summary = f"preset of {info['preset_of']}: {summary}"
            except LlaraError as exc:  # broken plugin: still listed, with its error
                provider = registry.provider(name)
                dist, version = provider.distribution, provider.version or ""
                summary = f"[red]cannot load: {escape(str(exc))}[/]"
            table.add_row(name, dist, version, summary if summary.startswith('[red]') else escape(summary))
        console.print(table)
    return 0
