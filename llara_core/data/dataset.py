"""The dataset model and its on-disk format.

A dataset folder holds::

    manifest.json   format, name, domain, n_items, per-file sha256, counts, content_hash,
                    source (how it was made) and the persisted candidate sets
    items.jsonl     {"id": 0, "title": "...", "text": null}  one line per item, ids 0..n_items-1
    train.jsonl     {"user": ..., "history": [...], "target": 7, "rating": 4.0}
    val.jsonl, test.jsonl
    candidates/     {split}-n{N}-seed{S}.jsonl (see llara_core.data.candidates)

``history`` is in time order (oldest first), at most ``history_len`` items, possibly empty.
Item ids are 0..n_items-1; ``n_items`` is the padding id of sequential recommenders. Nothing
is pickled: everything is JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from llara_core.data.hashing import combine, sha256_file
from llara_core.errors import DataError
from llara_core.fileio import atomic_open, atomic_write_text

FORMAT = "llara-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
DOMAINS = ("movie", "music", "game", "item")
MANIFEST = "manifest.json"
ITEMS = "items.jsonl"


@dataclass(frozen=True)
class Sample:
    """One next-item example: ``history`` (time order) then ``target``."""

    history: tuple[int, ...]
    target: int
    user: Any = None
    rating: float | None = None


@dataclass
class Split:
    """The samples of one split, stored column-wise."""

    name: str
    histories: list[tuple[int, ...]] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    users: list[Any] = field(default_factory=list)
    ratings: list[float | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> Sample:
        return Sample(self.histories[i], self.targets[i], self.users[i], self.ratings[i])

    def __iter__(self) -> Iterator[Sample]:
        return (self[i] for i in range(len(self)))

    def append(self, sample: Sample) -> None:
        self.histories.append(tuple(int(x) for x in sample.history))
        self.targets.append(int(sample.target))
        self.users.append(sample.user)
        self.ratings.append(sample.rating)

    @classmethod
    def from_samples(cls, name: str, samples: Sequence[Sample]) -> Split:
        split = cls(name)
        for s in samples:
            split.append(s)
        return split

    def subset(self, indices: Sequence[int]) -> Split:
        return Split(
            self.name,
            [self.histories[i] for i in indices],
            [self.targets[i] for i in indices],
            [self.users[i] for i in indices],
            [self.ratings[i] for i in indices],
        )

    def padded(self, history_len: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(N, history_len)`` long histories (last ``history_len`` items, padding at the end)
        and ``(N,)`` lengths clamped to >= 1 (an empty history is one padding position)."""
        out = torch.full((len(self), history_len), pad_id, dtype=torch.long)
        lengths = torch.ones(len(self), dtype=torch.long)
        for i, hist in enumerate(self.histories):
            hist = hist[-history_len:]
            if hist:
                out[i, : len(hist)] = torch.tensor(hist, dtype=torch.long)
                lengths[i] = len(hist)
        return out, lengths

    def history_length_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for h in self.histories:
            counts[len(h)] = counts.get(len(h), 0) + 1
        return dict(sorted(counts.items()))


@dataclass
class Dataset:
    """A catalogue plus train/val/test splits."""

    name: str
    domain: str
    titles: list[str]
    splits: dict[str, Split]
    texts: list[str | None] | None = None
    source: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return len(self.titles)

    @property
    def content_hash(self) -> str | None:
        return self.manifest.get("content_hash")

    def split(self, name: str) -> Split:
        if name not in self.splits:
            where = f" in {self.path}" if self.path else ""
            raise DataError(f"split {name!r} not found{where} (have: {', '.join(self.splits)})")
        return self.splits[name]

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise DataError naming split, row and field for any id outside the catalogue."""
        if self.domain not in DOMAINS:
            raise DataError(f"dataset {self.name!r}: domain {self.domain!r} is not one of {DOMAINS}")
        if not self.titles:
            raise DataError(f"dataset {self.name!r}: the catalogue is empty")
        from llara_core.data.titles import check_title

        for i, title in enumerate(self.titles):
            where = f"{self.path / ITEMS} line {i + 1}" if self.path is not None else f"dataset {self.name!r}"
            check_title(title, where, i)
        n = self.n_items
        for split in self.splits.values():
            if len(split) == 0:
                raise DataError(f"dataset {self.name!r}: split {split.name!r} is empty")
            for row, (hist, target) in enumerate(zip(split.histories, split.targets)):
                where = f"{self.path / (split.name + '.jsonl')} line {row + 1}" if self.path is not None else f"{split.name} row {row}"
                if not 0 <= target < n:
                    raise DataError(f"{where}: target {target} outside the catalogue 0..{n - 1}")
                for item in hist:
                    if not 0 <= item < n:
                        raise DataError(f"{where}: history item {item} outside the catalogue 0..{n - 1}")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> dict[str, Any]:
        """Write the dataset folder; returns the manifest. Existing candidate files are kept
        in the manifest only when the content hash is unchanged."""
        self.validate()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        files: dict[str, dict[str, Any]] = {}
        with atomic_open(path / ITEMS, "w", encoding="utf-8") as fh:
            for i, title in enumerate(self.titles):
                text = self.texts[i] if self.texts else None
                fh.write(json.dumps({"id": i, "title": title, "text": text}, ensure_ascii=False) + "\n")
        files[ITEMS] = {"rows": self.n_items, "sha256": sha256_file(path / ITEMS)}
        for name, split in self.splits.items():
            fname = f"{name}.jsonl"
            with atomic_open(path / fname, "w", encoding="utf-8") as fh:
                for s in split:
                    row = {"user": s.user, "history": list(s.history), "target": s.target, "rating": s.rating}
                    fh.write(json.dumps(row) + "\n")
            files[fname] = {"rows": len(split), "sha256": sha256_file(path / fname)}
        content_hash = combine(f"{k}:{v['sha256']}" for k, v in sorted(files.items()))
        old = _read_manifest(path) if (path / MANIFEST).is_file() else {}
        candidates = old.get("candidates", {}) if old.get("content_hash") == content_hash else {}
        self.manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "domain": self.domain,
            "n_items": self.n_items,
            "splits": {n: {"rows": len(s), "users": len({u for u in s.users if u is not None})} for n, s in self.splits.items()},
            "files": files,
            "content_hash": content_hash,
            "source": self.source,
            "candidates": candidates,
        }
        write_manifest(path, self.manifest)
        self.path = path
        return self.manifest

    @classmethod
    def load(cls, path: str | Path, splits: Sequence[str] | None = None) -> Dataset:
        """Read a dataset folder (all splits, or only ``splits``)."""
        path = Path(path)
        manifest = _read_manifest(path)
        titles: list[str] = []
        texts: list[str | None] = []
        for lineno, row in _read_jsonl(path / ITEMS):
            if row.get("id") != len(titles) or not isinstance(row.get("title"), str):
                raise DataError(
                    f"{path / ITEMS} line {lineno}: expected id {len(titles)} with a string title, got {row}"
                )
            titles.append(row["title"])
            texts.append(row.get("text"))
        names = list(splits) if splits is not None else list(manifest.get("splits", SPLITS))
        loaded: dict[str, Split] = {}
        for name in names:
            fpath = path / f"{name}.jsonl"
            if not fpath.is_file():
                raise DataError(f"{fpath}: split file not found")
            split = Split(name)
            for lineno, row in _read_jsonl(fpath):
                try:
                    split.append(Sample(tuple(row["history"]), int(row["target"]), row.get("user"), row.get("rating")))
                except (KeyError, TypeError, ValueError) as exc:
                    raise DataError(
                        f"{fpath} line {lineno}: expected history (list of ids) and target (id): {exc}"
                    ) from exc
            loaded[name] = split
        ds = cls(
            name=manifest.get("name", path.name),
            domain=manifest.get("domain", "item"),
            titles=titles,
            texts=texts if any(t is not None for t in texts) else None,
            splits=loaded,
            source=manifest.get("source", {}),
            path=path,
            manifest=manifest,
        )
        ds.validate()
        return ds


def _read_manifest(path: Path) -> dict[str, Any]:
    mpath = Path(path) / MANIFEST
    if not mpath.is_file():
        raise DataError(f"{mpath}: not found (expected a dataset folder written by `llara data ...`)")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{mpath}: not valid JSON ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise DataError(f"{mpath}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    return manifest


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a dataset folder (DataError when missing or not a llara dataset)."""
    return _read_manifest(Path(path))


def write_manifest(path: str | Path, manifest: dict[str, Any]) -> None:
    """Replace ``manifest.json`` atomically (temporary file, fsync, rename): a reader never sees
    a half-written manifest. Only the commands that make or change a dataset call it
    (``Dataset.save``, ``llara data candidates``); evaluation never does."""
    atomic_write_text(Path(path) / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if not path.is_file():
        raise DataError(f"{path}: not found")
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path} line {lineno}: not valid JSON ({exc.msg})") from exc
