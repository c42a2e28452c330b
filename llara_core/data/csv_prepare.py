"""Generic preparer: an interactions CSV (user, item, timestamp[, rating]) and an items CSV
(item, title[, text]) -> a llara dataset.

Item ids of the items CSV (any strings) become catalogue ids 0..n-1 in file order; users keep
their CSV value (a string). Each user's kept interactions are sorted by timestamp with a
stable sort (ties keep the file order). Splits:

- ``user``: whole users go to val / test (seeded, ``val_frac`` / ``test_frac``); train users
  give one sample per interaction, val/test users their last one (the LLaRA recipe);
- ``leave-last-out``: every user's last interaction is a test sample, the one before it a val
  sample, the earlier ones train samples.

Samples with fewer than ``min_history`` history items are dropped. Timestamps are numbers or
ISO 8601 dates (UTC unless they carry a zone).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llara_core.data.dataset import DOMAINS, Dataset, Split
from llara_core.data.hashing import sha256_file
from llara_core.data.sequences import UserSequence, build_split, random_user_split
from llara_core.data.titles import check_title
from llara_core.errors import DataError


class CsvOptions(BaseModel):
    """How to read the two CSV files and how to split them."""

    model_config = ConfigDict(extra="forbid")

    split: Literal["user", "leave-last-out"] = "user"
    val_frac: float = Field(0.1, ge=0, lt=1)
    test_frac: float = Field(0.1, ge=0, lt=1)
    seed: int = 0
    history_len: int = Field(10, gt=0)
    min_history: int = Field(3, ge=0)
    min_rating: float | None = None
    delimiter: str = Field(",", min_length=1, max_length=1)
    encoding: str = "utf-8"
    user_col: str = "user"
    item_col: str = "item"  # in both files
    time_col: str = "timestamp"
    rating_col: str = "rating"
    title_col: str = "title"
    text_col: str = "text"


def _rows(path: Path, options: CsvOptions, required: list[str], what: str):
    """(line number, row dict) of a CSV file, after checking it decodes and has ``required``."""
    if not path.is_file():
        raise DataError(f"{path}: not found (expected {what} with columns {', '.join(required)})")
    data = path.read_bytes()
    try:
        text = data.decode(options.encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path} line {line}: byte 0x{data[exc.start]:02x} is not valid {options.encoding} "
            f"(expected {what} encoded as {options.encoding}; see --encoding)"
        ) from None
    text = text.removeprefix("\ufeff")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=options.delimiter)
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"{path} line 1: missing column {missing[0]!r}; expected {what} with columns "
            f"{', '.join(required)}, found {', '.join(header) or 'nothing'}"
        )
    start = reader.line_num + 1
    for row in reader:  # the line a row starts on (a quoted cell may span several lines)
        yield start, row
        start = reader.line_num + 1


def _cell(path: Path, line: int, row: dict, column: str) -> str:
    value = row.get(column)
    if value is None or not value.strip():
        raise DataError(f"{path} line {line}: empty {column!r}; expected a value")
    return value.strip()


def _number(path: Path, line: int, value: str, column: str, allow_date: bool = False) -> float:
    try:
        return float(value)
    except ValueError:
        pass
    if allow_date:
        try:
            when = datetime.fromisoformat(value)
            if when.tzinfo is None:  # naive dates are read as UTC, never as the machine's zone
                when = when.replace(tzinfo=timezone.utc)
            return when.timestamp()
        except ValueError:
            pass
    expected = "a number or an ISO 8601 date" if allow_date else "a number"
    raise DataError(f"{path} line {line}: {column} {value!r} is not {expected}")


def read_items(
    path: str | Path, options: CsvOptions
) -> tuple[dict[str, int], list[str], list[str | None]]:
    """(CSV item id -> catalogue id, titles, texts) in file order."""
    path = Path(path)
    ids: dict[str, int] = {}
    titles: list[str] = []
    texts: list[str | None] = []
    for line, row in _rows(path, options, [options.item_col, options.title_col], "an items CSV"):
        key = _cell(path, line, row, options.item_col)
        if key in ids:
            raise DataError(
                f"{path} line {line}: item {key!r} appears twice; expected one row per item"
            )
        title = _cell(path, line, row, options.title_col)
        check_title(title, f"{path} line {line}", repr(key))
        ids[key] = len(titles)
        titles.append(title)
        text = row.get(options.text_col)
        texts.append(text.strip() if text and text.strip() else None)
    if not titles:
        raise DataError(f"{path}: no items; expected at least one row below the header")
    return ids, titles, texts


def read_interactions(
    path: str | Path, item_ids: dict[str, int], options: CsvOptions
) -> tuple[list[str], dict[str, UserSequence], int]:
    """(users by first appearance, time-ordered sequences, rows read) of the kept interactions."""
    path = Path(path)
    required = [options.user_col, options.item_col, options.time_col]
    if options.min_rating is not None:
        required.append(options.rating_col)
    events: dict[str, list[tuple[float, int, float | None]]] = {}
    order: list[str] = []
    n_rows = 0
    for line, row in _rows(path, options, required, "an interactions CSV"):
        n_rows += 1
        user = _cell(path, line, row, options.user_col)
        key = _cell(path, line, row, options.item_col)
        if key not in item_ids:
            raise DataError(
                f"{path} line {line}: item {key!r} is not in the items CSV (outside the catalogue)"
            )
        when = _number(
            path, line, _cell(path, line, row, options.time_col), options.time_col, allow_date=True
        )
        rating = None
        raw_rating = row.get(options.rating_col)
        if raw_rating is not None and raw_rating.strip():
            rating = _number(path, line, raw_rating.strip(), options.rating_col)
        if options.min_rating is not None and (rating is None or rating < options.min_rating):
            continue
        if user not in events:
            order.append(user)
            events[user] = []
        events[user].append((when, item_ids[key], rating))
    if n_rows == 0:
        raise DataError(f"{path}: no interactions; expected at least one row below the header")
    sequences = {}
    for user, evs in events.items():
        evs.sort(key=lambda e: e[0])  # stable: ties keep the file order
        sequences[user] = UserSequence([e[1] for e in evs], [e[2] for e in evs])
    return order, sequences, n_rows


def prepare_csv(
    interactions: str | Path,
    items: str | Path,
    name: str,
    domain: str = "item",
    options: CsvOptions | None = None,
) -> Dataset:
    """Build a dataset from the two CSV files (see the module docstring)."""
    options = options or CsvOptions()
    if domain not in DOMAINS:
        raise DataError(f"domain {domain!r}: expected one of {', '.join(DOMAINS)}")
    item_ids, titles, texts = read_items(items, options)
    users, sequences, n_rows = read_interactions(interactions, item_ids, options)
    h, m = options.history_len, options.min_history
    splits: dict[str, Split] = {}
    before: dict[str, int] = {}
    if options.split == "user":
        val_users, test_users = random_user_split(
            users, options.val_frac, options.test_frac, options.seed
        )
        train_users = [u for u in users if u not in val_users and u not in test_users]
        splits["train"], before["train"] = build_split("train", train_users, sequences, h, m, "all")
        splits["val"], before["val"] = build_split(
            "val", [u for u in users if u in val_users], sequences, h, m, "last"
        )
        splits["test"], before["test"] = build_split(
            "test", [u for u in users if u in test_users], sequences, h, m, "last"
        )
    else:
        splits["train"], before["train"] = build_split(
            "train", users, sequences, h, m, "all", end_offset=2
        )
        splits["val"], before["val"] = build_split(
            "val", users, sequences, h, m, "last", end_offset=1
        )
        splits["test"], before["test"] = build_split("test", users, sequences, h, m, "last")
    for split_name, split in splits.items():
        if len(split) == 0:
            raise DataError(
                f"{interactions}: split {split_name} is empty ({before[split_name]} samples before "
                f"min_history {m}); expected enough users and interactions for every split"
            )
    source = {
        "kind": "csv",
        "options": options.model_dump(),
        "interactions_rows": n_rows,
        "kept_interactions": sum(len(s.items) for s in sequences.values()),
        "samples_before_filter": before,
        "interactions_sha256": sha256_file(interactions),
        "items_sha256": sha256_file(items),
    }
    return Dataset(
        name=name,
        domain=domain,
        titles=titles,
        texts=texts if any(t is not None for t in texts) else None,
        splits=splits,
        source=source,
    )
