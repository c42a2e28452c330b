"""Entry point of the ``llara`` command: one sub-command module per verb.

Every mistake a user can make raises a :class:`~llara_core.errors.LlaraError`; ``main`` prints it
as ``error: <message>`` on stderr without a traceback and returns 2. ``--debug`` (anywhere on the
command line, or ``LLARA_DEBUG=1``) prints the traceback as well. Other exceptions are bugs and
keep their traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
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
    "llara_core.cli.export_cmd",
]
DEBUG_ENV = "LLARA_DEBUG"
DEBUG_HELP = "on an error, print the full traceback too (also: LLARA_DEBUG=1)"


def _add_debug(parser: argparse.ArgumentParser, top: bool) -> None:
    """``--debug`` on ``parser`` and on every sub-command below it, so it may come anywhere."""
    default = False if top else argparse.SUPPRESS  # a sub-command must not reset the top-level value
    parser.add_argument("--debug", action="store_true", default=default, help=DEBUG_HELP)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                _add_debug(child, top=False)


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
    _add_debug(parser, top=True)
    return parser


def _debug_requested(args: argparse.Namespace) -> bool:
    env = os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}
    return env or bool(getattr(args, "debug", False))


def report_error(exc: BaseException, debug: bool) -> None:
    """``error: <message>`` on stderr (the traceback first with ``debug``)."""
    from rich.console import Console

    console = Console(stderr=True, soft_wrap=True)
    if debug:
        import traceback

        sys.stderr.write("".join(traceback.format_exception(exc)))
    console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = args.func(args)
    except LlaraError as exc:
        report_error(exc, _debug_requested(args))
        return 2
    except KeyboardInterrupt:
        from rich.console import Console

        Console(stderr=True).print("interrupted")
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
