"""Content hashes of llara artefacts (sha256 of the exact bytes written)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def combine(hashes: Iterable[str]) -> str:
    """One hash for an ordered collection of hashes."""
    h = hashlib.sha256()
    for part in hashes:
        h.update(part.encode())
    return h.hexdigest()
