"""MovieLens-100K preparer: LLaRA's split rebuilt from the raw ``u.data`` and ``u.item``.

Recipe (``../shared/README.md``): u.data's first rating is dropped (the reference read it as
a header; ``drop_first_row=False`` keeps it), ratings >= ``min_rating`` are kept, users are
ordered by first appearance, each user's interactions are sorted by time with a *stable* sort
(ties keep the file order; the reference used an unstable sort whose tie order cannot be
reproduced), users go to train / val / test, train users give one sample per interaction and
val/test users their last one. Item id = MovieLens id - 1; the catalogue is every id of
``u.item`` (1..1682 for MovieLens-100K, which must all be present).

``split="reference"`` uses LLaRA's published val/test users; ``split="random"`` draws 10% val
and 10% test users with ``seed`` (see :func:`llara_core.data.sequences.random_user_split`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from llara_core.data.dataset import Dataset, Split
from llara_core.data.hashing import sha256_file
from llara_core.data.sequences import UserSequence, build_split, random_user_split
from llara_core.data.titles import catalogue, read_movielens_items
from llara_core.errors import DataError

#: LLaRA's validation users (MovieLens user ids), as published in ../shared/README.md
REFERENCE_VAL_USERS = tuple(
    int(u)
    for u in """
    41 61 79 88 107 120 124 132 133 161 163 164 169 171 184 190 234 235 236 260 261 285 313 333
    339 341 354 358 368 369 383 384 392 401 408 411 418 432 441 444 445 466 471 478 480 485 491
    507 511 547 548 559 565 574 585 588 591 613 616 620 623 625 639 659 660 663 667 669 675 720
    722 726 734 741 752 775 778 794 801 809 822 828 834 835 840 842 852 866 903 915 931 932 934
    942""".split()
)
#: LLaRA's test users (MovieLens user ids)
REFERENCE_TEST_USERS = tuple(
    int(u)
    for u in """
    4 7 11 26 27 33 38 39 56 90 91 100 111 121 134 146 167 179 183 189 191 197 204 214 215 223
    229 247 252 253 263 266 269 273 278 280 312 317 325 329 334 335 353 356 363 365 377 381 420
    421 423 440 448 475 488 489 516 551 587 603 611 618 636 643 645 649 650 656 676 683 701 704
    714 729 753 766 767 776 780 782 784 796 807 816 818 830 831 856 873 883 909 911 918 922
    938""".split()
)


def read_ratings(
    path: str | Path, n_items: int, drop_first_row: bool = True
) -> list[tuple[int, int, float, int]]:
    """``u.data`` rows as (user, item id = MovieLens id - 1, rating, unix time), file order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found (expected MovieLens u.data: user, item, rating, time)")
    rows: list[tuple[int, int, float, int]] = []
    with open(path, encoding="ascii", errors="strict") as fh:
        try:
            lines = fh.read().splitlines()
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path}: byte {exc.start} is not ASCII; expected MovieLens u.data"
            ) from None
    for lineno, line in enumerate(lines, 1):
        if lineno == 1 and drop_first_row or not line.strip():
            continue
        parts = line.split("\t")
        try:
            if len(parts) != 4:
                raise ValueError
            user, item, rating, when = int(parts[0]), int(parts[1]), float(parts[2]), int(parts[3])
        except ValueError:
            raise DataError(
                f"{path} line {lineno}: expected 4 tab-separated numbers (user, item, rating, time), got {line[:60]!r}"
            ) from None
        if not 1 <= item <= n_items:
            raise DataError(
                f"{path} line {lineno}: item {item} outside the catalogue 1..{n_items} of u.item"
            )
        rows.append((user, item - 1, rating, when))
    if not rows:
        raise DataError(f"{path}: no ratings")
    return rows


def user_sequences(
    rows: list[tuple[int, int, float, int]], min_rating: float
) -> tuple[list[int], dict[int, UserSequence]]:
    """(users in order of first appearance among kept rows, their time-ordered sequences);
    the time sort is stable, so ties keep the file order."""
    order: list[int] = []
    kept: dict[int, list[tuple[int, int, float]]] = {}
    for user, item, rating, when in rows:
        if rating < min_rating:
            continue
        if user not in kept:
            order.append(user)
            kept[user] = []
        kept[user].append((when, item, rating))
    sequences = {}
    for user, events in kept.items():
        events.sort(key=lambda e: e[0])  # list.sort is stable
        sequences[user] = UserSequence([e[1] for e in events], [e[2] for e in events])
    return order, sequences


def prepare_movielens(
    raw_dir: str | Path,
    split: Literal["reference", "random"] = "reference",
    seed: int = 0,
    min_rating: float = 3.0,
    history_len: int = 10,
    min_history: int = 3,
    drop_first_row: bool = True,
) -> Dataset:
    """Rebuild the MovieLens-100K split from ``raw_dir/u.data`` and ``raw_dir/u.item``."""
    raw = Path(raw_dir)
    raw_titles = read_movielens_items(raw / "u.item")
    titles = catalogue(raw_titles, max(raw_titles), raw / "u.item", offset=1)
    rows = read_ratings(raw / "u.data", len(titles), drop_first_row)
    order, sequences = user_sequences(rows, min_rating)
    if split == "reference":
        val_users, test_users = set(REFERENCE_VAL_USERS), set(REFERENCE_TEST_USERS)
        missing = sorted((val_users | test_users) - set(order))
        if missing:
            raise DataError(
                f"{raw / 'u.data'}: reference val/test user {missing[0]} has no rating >= {min_rating} "
                f"({len(missing)} such users); expected MovieLens-100K (or use --split random)"
            )
    elif split == "random":
        val_users, test_users = random_user_split(sorted(order), 0.1, 0.1, seed)
    else:
        raise DataError(f"unknown MovieLens split {split!r}; expected 'reference' or 'random'")
    splits: dict[str, Split] = {}
    before: dict[str, int] = {}
    groups = {
        "train": ([u for u in order if u not in val_users and u not in test_users], "all"),
        "val": ([u for u in order if u in val_users], "last"),
        "test": ([u for u in order if u in test_users], "last"),
    }
    for name, (users, mode) in groups.items():
        splits[name], before[name] = build_split(
            name, users, sequences, history_len, min_history, mode
        )
        if len(splits[name]) == 0:
            raise DataError(
                f"{raw / 'u.data'}: split {name} is empty after min_history {min_history}"
            )
    source = {
        "kind": "movielens-100k",
        "split": split,
        "seed": seed if split == "random" else None,
        "min_rating": min_rating,
        "history_len": history_len,
        "min_history": min_history,
        "drop_first_row": drop_first_row,
        "tie_order": "stable sort by time (file order within a second)",
        "interactions": sum(len(s.items) for s in sequences.values()),
        "samples_before_filter": before,
        "u.data_sha256": sha256_file(raw / "u.data"),
    }
    name = "movielens-100k" if split == "reference" else f"movielens-100k-random{seed}"
    return Dataset(name=name, domain="movie", titles=titles, splits=splits, source=source)
