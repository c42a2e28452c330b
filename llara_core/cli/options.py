"""Options shared by several ``llara`` commands (kept free of heavy imports: parsers are built
for every command, ``--help`` included)."""

from __future__ import annotations

import argparse

THREADS_HELP = "torch CPU threads (0 or absent = torch's default; 1 is safest when other jobs share the cores)"


def _threads(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of threads, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more threads, got {value}")
    return value


def add_threads_argument(parser: argparse.ArgumentParser, default: int | None = None, help: str = THREADS_HELP) -> None:
    """``--threads N`` on a command that computes with torch."""
    parser.add_argument("--threads", type=_threads, default=default, metavar="N", help=help)


def apply_threads(threads: int | None) -> None:
    """``torch.set_num_threads(threads)`` when ``threads`` is given and positive; else leave torch's default."""
    if threads:
        import torch

        torch.set_num_threads(threads)
