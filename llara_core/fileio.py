"""Crash-safe file writing and clear errors when reading what llara wrote.

Every file llara writes goes through here: into a temporary sibling, flushed and ``fsync``-ed,
then renamed over the final name (``os.replace``, atomic on POSIX and Windows), and the folder
is ``fsync``-ed so that the rename itself survives a power cut. A reader therefore sees the old
file or the new one, never a half-written one, whatever kills the writer (Ctrl-C, SIGKILL, a
full disk). Folders (checkpoints) are written the same way as a whole: see
:func:`fsync_tree` and :mod:`llara_core.training.state_io`.

The readers turn whatever a damaged file raises into one :class:`~llara_core.errors.LlaraError`
line naming the file. Imports no torch (safetensors is imported where used).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from llara_core.errors import LlaraError

__all__ = [
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fsync_dir",
    "fsync_tree",
    "read_json",
    "read_safetensors",
    "save_safetensors",
]


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}")


def _fsync_path(path: str | Path) -> None:
    """``fsync`` one file or folder; silently nothing where it cannot be opened (folders on Windows)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_dir(folder: str | Path) -> None:
    """Make a rename or a new entry in ``folder`` durable (a no-op where folders cannot be
    opened, e.g. on Windows)."""
    _fsync_path(folder)


def fsync_tree(folder: str | Path) -> None:
    """``fsync`` every file and folder below ``folder`` (before renaming it into place)."""
    folder = Path(folder)
    for root, _dirs, files in os.walk(folder, topdown=False):
        for name in files:
            _fsync_path(os.path.join(root, name))
        fsync_dir(root)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO[Any]]:
    """``open(path, mode)`` that writes a temporary sibling and renames it over ``path`` only
    when the block ends without an exception (the old file stays otherwise)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    binary = "b" in mode
    fh = open(tmp, mode, encoding=None if binary else encoding, newline=None if binary else newline)
    try:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        fh.close()
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    with atomic_open(path, "w", encoding=encoding) as fh:
        fh.write(text)
    return Path(path)


def atomic_write_json(path: str | Path, data: Any, indent: int | None = 2) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def save_safetensors(tensors: dict[str, Any], path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """``safetensors.torch.save_file`` into a temporary sibling, fsync, rename."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        fd = os.open(str(tmp), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)
    return path


def read_safetensors(path: str | Path, what: str = "weights", device: str = "cpu") -> dict[str, Any]:
    """The tensors of a safetensors file; a missing, truncated or corrupt file is one
    LlaraError naming it (instead of safetensors' traceback)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise LlaraError(f"{path}: not found (expected the {what})")
    try:
        return load_file(str(path), device=device)
    except Exception as exc:  # SafetensorError, OSError, ValueError on a damaged header ...
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LlaraError(
            f"{path}: not a readable safetensors file ({detail}); expected the {what}: the file is damaged "
            "or incomplete, restore it from a copy or re-create it"
        ) from None


def read_json(path: str | Path, what: str = "file") -> Any:
    """Parsed JSON of ``path``; missing or unparsable: one LlaraError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise LlaraError(f"{path}: not found (expected {what})")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise LlaraError(f"{path}: not UTF-8 text (byte {exc.start}); expected {what} as JSON") from None
    except json.JSONDecodeError as exc:
        raise LlaraError(f"{path}: not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno}); expected {what}") from None
