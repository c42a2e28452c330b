"""Locate the shared research data (``<repo>/../shared/data``, or ``$LLARA_SHARED_DATA``).

Tests that need it call :func:`shared_data_path`; when the data is absent they skip with the
reason, or fail when ``LLARA_REQUIRE_DATA=1`` (CI machines that must have it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_root() -> Path:
    env = os.environ.get("LLARA_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def shared_data_path(*parts: str) -> Path:
    """``<shared data>/<parts...>``; skips (or fails under LLARA_REQUIRE_DATA=1) when missing."""
    path = shared_data_root().joinpath(*parts)
    if not path.exists():
        reason = f"shared data not found: {path} (set LLARA_SHARED_DATA to its folder)"
        if os.environ.get("LLARA_REQUIRE_DATA", "").strip() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    return path
