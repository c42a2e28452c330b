"""Candidate sets: drawn once per (split, sample index, seed), persisted, shared by every method.

Each set is the target plus ``n - 1`` items drawn uniformly without replacement from the
catalogue minus the sample's history and target, in a shuffled order. The generator of sample
``i`` is seeded from ``(seed, split, i)`` only (a counter-based scheme through NumPy's
SeedSequence), so the sets do not depend on the process, the machine or the number of workers
that draw them. Persisted sets live in ``candidates/{split}-n{N}-seed{S}.jsonl`` with their
sha256 recorded in the dataset manifest.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from llara_core.data.dataset import MANIFEST, Dataset, read_manifest, write_manifest
from llara_core.data.hashing import sha256_file
from llara_core.errors import DataError, LlaraError
from llara_core.fileio import atomic_open, atomic_write_json, read_json

CANDIDATE_DIR = "candidates"
LOCK_FILE = ".lock"
LOCK_TIMEOUT_S = 600


def _split_code(split: str) -> int:
    return int.from_bytes(hashlib.sha256(split.encode()).digest()[:4], "little")


def draw_candidates(
    history: Sequence[int],
    target: int,
    n_items: int,
    n: int,
    seed: int,
    split: str,
    index: int,
    epoch: int = 0,
) -> list[int]:
    """The candidate list of one sample (length ``n``, target exactly once, no history item).

    ``epoch`` lets training draw fresh negatives per epoch with the same guarantees.
    """
    excluded = set(int(h) for h in history)
    excluded.add(int(target))
    if n_items - len(excluded) < n - 1:
        raise DataError(
            f"{split} row {index}: cannot draw {n - 1} negatives from {n_items} items minus "
            f"{len(excluded)} excluded ones; lower the number of candidates"
        )
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, _split_code(split), int(index), int(epoch)])
    picks: list[int] = []
    chosen: set[int] = set()
    while len(picks) < n - 1:
        for x in rng.integers(0, n_items, size=2 * n).tolist():
            if x not in excluded and x not in chosen:
                chosen.add(x)
                picks.append(x)
                if len(picks) == n - 1:
                    break
    picks.append(int(target))
    return [picks[i] for i in rng.permutation(n).tolist()]


def _draw_range(args: tuple) -> list[list[int]]:
    histories, targets, n_items, n, seed, split, start = args
    return [
        draw_candidates(h, t, n_items, n, seed, split, start + k)
        for k, (h, t) in enumerate(zip(histories, targets))
    ]


def draw_split(dataset: Dataset, split: str, n: int, seed: int, workers: int = 1) -> list[list[int]]:
    """Candidate lists of every sample of ``split``; identical for any ``workers``."""
    data = dataset.split(split)
    if workers <= 1:
        return _draw_range((data.histories, data.targets, dataset.n_items, n, seed, split, 0))
    size = max(1, -(-len(data) // workers))
    jobs = [
        (data.histories[s : s + size], data.targets[s : s + size], dataset.n_items, n, seed, split, s)
        for s in range(0, len(data), size)
    ]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return [row for part in pool.map(_draw_range, jobs) for row in part]


def candidate_key(split: str, n: int, seed: int) -> str:
    return f"{split}-n{n}-seed{seed}"


# ---------------------------------------------------------------------- persistence
def _folder(dataset: Dataset) -> Path:
    if dataset.path is None:
        raise DataError("save the dataset before drawing persisted candidates")
    return dataset.path / CANDIDATE_DIR


def _sidecar(dataset: Dataset, key: str) -> Path:
    """``candidates/{key}.json``: the set's own manifest entry (evaluation writes this, never
    the dataset's ``manifest.json``)."""
    return _folder(dataset) / f"{key}.json"


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder/.lock`` across processes (``flock``; on systems without it,
    a lock file created exclusively), so that two processes drawing the same set never write
    it at the same time; the second one finds the first one's set when it gets the lock."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{folder}: cannot create the candidate folder ({exc}); draw the sets where you can write "
                        "(`llara data candidates`) or copy the dataset") from None
    lock = folder / LOCK_FILE
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None
    if fcntl is not None:
        try:
            fh = open(lock, "a+")
        except OSError as exc:
            raise DataError(f"{lock}: cannot open the candidate lock ({exc}); is the dataset folder read-only?") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()
        return
    deadline = time.monotonic() + LOCK_TIMEOUT_S  # pragma: no cover - Windows
    while True:  # pragma: no cover - Windows
        try:
            fd = os.open(str(lock), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise DataError(f"{lock}: held for over {LOCK_TIMEOUT_S} s; remove it if no llara process is drawing candidates") from None
            time.sleep(0.05)
    try:  # pragma: no cover - Windows
        yield
    finally:  # pragma: no cover - Windows
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(lock)


def _write(path: Path, rows: list[list[int]]) -> None:
    """The candidate file, atomically (temporary file, fsync, rename)."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")


def recorded_entry(dataset: Dataset, key: str) -> tuple[dict[str, Any] | None, str]:
    """The recorded entry of set ``key`` and where it is recorded: the dataset manifest (sets
    drawn by ``llara data candidates``) or the set's own ``candidates/{key}.json`` (sets drawn
    on demand by evaluation); the one drawn for the current dataset content wins."""
    found: list[tuple[dict[str, Any], str]] = []
    entry = read_manifest(dataset.path).get("candidates", {}).get(key)
    if isinstance(entry, dict):
        found.append((entry, str(dataset.path / MANIFEST)))
    side = _sidecar(dataset, key)
    if side.is_file():
        try:
            data = read_json(side, "a candidate set's manifest entry")
        except LlaraError as exc:
            raise DataError(str(exc)) from None
        if isinstance(data, dict):
            found.append((data, str(side)))
    for e, where in found:
        if e.get("dataset_hash") == dataset.content_hash:
            return e, where
    return found[0] if found else (None, "")


def _usable(dataset: Dataset, entry: dict[str, Any] | None) -> bool:
    return bool(entry) and entry.get("dataset_hash") == dataset.content_hash and (dataset.path / entry["file"]).is_file()


def _draw_and_write(dataset: Dataset, split: str, n: int, seed: int, workers: int) -> dict[str, Any]:
    rows = draw_split(dataset, split, n, seed, workers)
    key = candidate_key(split, n, seed)
    fpath = _folder(dataset) / f"{key}.jsonl"
    try:
        _write(fpath, rows)
        entry = {
            "file": f"{CANDIDATE_DIR}/{key}.jsonl",
            "split": split,
            "n": n,
            "seed": seed,
            "rows": len(rows),
            "sha256": sha256_file(fpath),
            "dataset_hash": dataset.content_hash,
        }
        atomic_write_json(_sidecar(dataset, key), entry)
    except OSError as exc:
        raise DataError(f"{fpath}: cannot write the candidate set ({exc}); draw it where you can write "
                        "(`llara data candidates`) or copy the dataset") from None
    return entry


def write_candidates(dataset: Dataset, split: str, n: int, seed: int, workers: int = 1, record: bool = True) -> dict[str, Any]:
    """Draw and persist one candidate set (``llara data candidates``); returns its entry (with
    ``sha256``). The file and its entry are written atomically under the candidate lock; with
    ``record`` the entry also goes into the dataset manifest (replaced atomically)."""
    folder = _folder(dataset)
    with _locked(folder):
        entry = _draw_and_write(dataset, split, n, seed, workers)
        if record:
            manifest = read_manifest(dataset.path)
            manifest.setdefault("candidates", {})[candidate_key(split, n, seed)] = entry
            write_manifest(dataset.path, manifest)
            dataset.manifest = manifest
    return entry


def _check_rows(fpath: Path, rows: list[Any], dataset: Dataset, split: str, n: int) -> None:
    """Every row: ``n`` distinct ids of the catalogue, the sample's target exactly once."""
    data = dataset.split(split)
    n_items = dataset.n_items
    for i, (row, target) in enumerate(zip(rows, data.targets)):
        where = f"{fpath} line {i + 1}"
        if not isinstance(row, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in row):
            raise DataError(f"{where}: expected a list of item ids, got {str(row)[:60]}")
        if len(row) != n:
            raise DataError(f"{where}: {len(row)} candidates, expected {n}")
        bad = [x for x in row if not 0 <= x < n_items]
        if bad:
            raise DataError(f"{where}: candidate {bad[0]} outside the catalogue 0..{n_items - 1}")
        if len(set(row)) != len(row):
            dup = next(x for x in row if row.count(x) > 1)
            raise DataError(f"{where}: candidate {dup} appears {row.count(dup)} times")
        if target not in row:
            raise DataError(f"{where}: the candidate list does not contain the sample's target {target} "
                            f"({split} row {i}); a candidate set must hold the target exactly once")


def load_candidates(dataset: Dataset, split: str, n: int, seed: int) -> tuple[list[list[int]], str]:
    """The persisted candidate lists of (split, n, seed) and their sha256.

    Raises DataError when they were never drawn, when the file no longer matches its recorded
    sha256 or the dataset it was drawn from, or when a row is not a valid candidate list (n
    distinct catalogue ids holding the sample's target).
    """
    if dataset.path is None:
        raise DataError("dataset has no folder: save it first")
    key = candidate_key(split, n, seed)
    entry, source = recorded_entry(dataset, key)
    if entry is None:
        raise DataError(
            f"{dataset.path}: no candidate set {key}; draw it with "
            f"`llara data candidates {dataset.path} --split {split} --n {n} --seeds {seed}`"
        )
    fpath = dataset.path / entry["file"]
    if not fpath.is_file():
        raise DataError(f"{fpath}: candidate file listed in {source} is missing")
    digest = sha256_file(fpath)
    if digest != entry["sha256"]:
        raise DataError(
            f"{fpath}: sha256 {digest[:12]} differs from the manifest's {entry['sha256'][:12]} (recorded in {source}); "
            "the file changed after it was drawn: delete it and draw it again"
        )
    if entry.get("dataset_hash") != dataset.content_hash:
        raise DataError(f"{fpath}: drawn for another version of the dataset; draw it again")
    rows = []
    for lineno, line in enumerate(fpath.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{fpath} line {lineno}: not valid JSON ({exc.msg})") from None
    if len(rows) != len(dataset.split(split)):
        raise DataError(f"{fpath}: {len(rows)} rows for {len(dataset.split(split))} samples")
    _check_rows(fpath, rows, dataset, split, n)
    return rows, digest


def ensure_candidates(dataset: Dataset, split: str, n: int, seed: int, workers: int = 1) -> tuple[list[list[int]], str]:
    """Load the persisted candidate set, drawing and persisting it first if it does not exist.

    A set drawn here goes to ``candidates/{key}.jsonl`` with its entry in
    ``candidates/{key}.json``; the dataset's ``manifest.json`` is never rewritten. Two processes
    asking for the same new set at once are serialised by the candidate lock: the second finds
    the first one's set and reads it (the draw is deterministic, so both see the same rows).
    """
    key = candidate_key(split, n, seed)
    entry, _ = recorded_entry(dataset, key)
    if not _usable(dataset, entry):
        dataset.split(split)  # an unknown split is an error before anything is written
        with _locked(_folder(dataset)):
            entry, _ = recorded_entry(dataset, key)  # another process may have drawn it meanwhile
            if not _usable(dataset, entry):
                _draw_and_write(dataset, split, n, seed, workers)
    return load_candidates(dataset, split, n, seed)
