"""Entry point of the ``llara`` command: one sub-command module per verb."""

from __future__ import annotations

import argparse
import importlib
import sys

from llara_core.errors import LlaraError

#: sub-command modules, each with ``add_parser(subparsers)`` setting ``func`` on its parser.
#: Building the parser imports all of them, so they keep heavy imports (torch, transformers,
#: lightning, the model and training packages) inside the functions that run a command.
COMMAND_MODULES = [
    "llara_core.cli.components_cmd",
    "llara_core.cli.config_cmd",
    "llara_core.cli.data_cmd",
    "llara_core.cli.sr_cmd",
    "llara_core.cli.train_cmd",
    "llara_core.cli.evaluate_cmd",
    "llara_core.cli.quickstart_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llara",
        description="LLaRA: LLM-based sequential recommendation with hybrid item tokens.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # command not shipped in this build
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except LlaraError as exc:
        from rich.console import Console

        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
        return 2
    except KeyboardInterrupt:
        from rich.console import Console

        Console(stderr=True).print("interrupted")
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
