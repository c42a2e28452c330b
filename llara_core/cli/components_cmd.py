"""``llara components [SLOT]``: every registered component with its distribution and summary.

``--describe NAME`` prints one component's params schema; ``--check`` imports every component
(and runs every registration check on it: interface, Params, constructor signature) and exits 1
when any cannot load. Entry points that lost their name to another provider (a third-party one
shadowed by llara's built-in, or a built-in replaced by an explicit override) are listed under
their slot's table.
"""

from __future__ import annotations

import argparse
import json

from llara_core.errors import LlaraError
from llara_core.slots import SLOTS, get_slot


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("components", help="list registered components per slot")
    p.add_argument("slot", nargs="?", help=f"one of: {', '.join(SLOTS)}")
    p.add_argument("--describe", metavar="NAME", help="show one component's params schema (needs SLOT)")
    p.add_argument("--check", action="store_true",
                   help="import every component and run its registration checks; exit 1 if any cannot load")
    p.set_defaults(func=run)


def _row(registry, name: str, check: bool) -> tuple[list[str], bool]:
    """The table row of ``name`` and whether it loads (as far as the listing can tell)."""
    from rich.markup import escape

    try:
        if check:
            registry.resolve(name)  # imports it: interface, Params, signature checks
        info = registry.brief(name)
        dist, version = info["distribution"], info["version"] or ""
        summary = escape(info["summary"])
        if info["preset_of"]:
            summary = f"preset of {escape(info['preset_of'])}: {summary}"
        ok = True
    except LlaraError as exc:  # broken plugin: still listed, with its error
        provider = registry.provider(name)
        dist, version = provider.distribution, provider.version or ""
        summary = f"[red]cannot load: {escape(str(exc))}[/]"
        ok = False
    return [escape(name), escape(dist), escape(version), summary], ok


def run(args: argparse.Namespace) -> int:
    """Lists from metadata and module source (see ``Registry.brief``): no plugin is imported
    unless its source cannot tell (or ``--check`` asks for it); ``--describe`` reads a params
    entry point when declared."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if args.describe:
        if not args.slot:
            raise LlaraError("--describe needs a SLOT, e.g. `llara components projectors --describe mlp`")
        console.print_json(json.dumps(get_slot(args.slot).describe(args.describe)))
        return 0
    check = bool(getattr(args, "check", False))
    registries = [get_slot(args.slot)] if args.slot else list(SLOTS.values())
    broken: list[str] = []
    total = 0
    for registry in registries:
        table = Table(title=f"{registry.slot}  [dim]({registry.group})[/]", title_justify="left")
        for col in ("name", "distribution", "version", "summary"):
            table.add_column(col)
        for name in registry.names():
            row, ok = _row(registry, name, check)
            table.add_row(*row)
            total += 1
            if not ok:
                broken.append(f"{registry.slot}/{name}")
        console.print(table)
        for shadow in registry.shadowed():
            console.print(f"  [yellow]note:[/] {escape(str(shadow))}", highlight=False)
    if check:
        if broken:
            console.print(f"[red]✗[/] {len(broken)} of {total} component(s) cannot load: {', '.join(broken)}",
                          highlight=False)
            return 1
        console.print(f"[green]✓[/] all {total} component(s) load", highlight=False)
    return 0
