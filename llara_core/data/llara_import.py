"""Importer of LLaRA's processed splits (pandas pickles) into llara's own dataset format.

A source folder holds ``train_data.df``, ``Val_data.df``, ``Test_data.df`` (columns ``seq``,
``len_seq``, ``next`` in any order; any index) and the titles: ``u.item`` for MovieLens
(catalogue id = MovieLens id - 1), ``id2name.txt`` for LastFM and Steam. ``seq`` is a list of
item ids, or of ``(item, rating)`` pairs, padded at the end with ``n_items`` (or
``(n_items, 0)``); ``len_seq`` counts the real items but is at least 1 (an empty history has
``len_seq == 1``). Rows with ``len_seq < min_len_seq`` are dropped, as LLaRA's loader does.

Unpickling can run arbitrary code, so nothing is read unless ``trust_pickle`` is true.
"""

from __future__ import annotations

import hashlib
import numbers
from pathlib import Path
from typing import Any, Literal

from llara_core.data.dataset import Dataset, Sample, Split
from llara_core.data.hashing import sha256_file
from llara_core.data.titles import catalogue, read_id2name, read_movielens_items
from llara_core.errors import DataError, LlaraError

#: dataset -> (domain, n_items, title file, file id - catalogue id)
LLARA_DATASETS: dict[str, tuple[str, int, str, int]] = {
    "movielens": ("movie", 1682, "u.item", 1),
    "lastfm": ("music", 4606, "id2name.txt", 0),
    "steam": ("game", 3581, "id2name.txt", 0),
}
#: our split name -> LLaRA's file name
SPLIT_FILES = {"train": "train_data.df", "val": "Val_data.df", "test": "Test_data.df"}
COLUMNS = ("seq", "len_seq", "next")

PICKLE_REFUSAL = (
    "LLaRA's splits are pandas pickles and unpickling a file can run arbitrary code; "
    "pass --trust-pickle (trust_pickle=True) only for files from a source you trust"
)


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise LlaraError(
            "reading LLaRA's pickled splits needs pandas: pip install 'llara[llara-import]'"
        ) from None
    return pandas


def _refuse_untrusted(path: Path, trust_pickle: bool) -> None:
    if trust_pickle is not True:
        raise LlaraError(f"{path}: refusing to unpickle. {PICKLE_REFUSAL}")


def _read_frame(path: Path, *, trust_pickle: bool) -> Any:
    _refuse_untrusted(path, trust_pickle)  # the one place llara unpickles anything
    pd = _pandas()
    if not path.is_file():
        raise DataError(f"{path}: not found (expected LLaRA's pickled split {path.name})")
    try:
        frame = pd.read_pickle(path)
    except Exception as exc:  # unpickling raises anything: report it as bad input
        raise DataError(
            f"{path}: cannot unpickle ({type(exc).__name__}: {exc}); expected a pandas DataFrame"
        ) from None
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{path}: holds a {type(frame).__name__}, expected a pandas DataFrame")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}, "
            f"found {', '.join(map(str, frame.columns))}"
        )
    return frame


def _integer(value: Any, where: str, what: str) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and float(value).is_integer():
        return int(value)
    raise DataError(f"{where}: {what} {value!r} is not an integer item id")


def _entry(value: Any, where: str, what: str) -> tuple[int, float | None]:
    """An item as written by LLaRA: a plain id or an ``(item, rating)`` pair."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise DataError(
                f"{where}: {what} {value!r} is neither an id nor an (item, rating) pair"
            )
        item = _integer(value[0], where, what)
        rating = value[1]
        if not isinstance(rating, numbers.Real):
            raise DataError(f"{where}: {what} rating {rating!r} is not a number")
        return item, float(rating)
    return _integer(value, where, what), None


def _parse_row(seq: Any, len_seq: Any, nxt: Any, n_items: int, where: str) -> Sample:
    if not isinstance(seq, (list, tuple)):
        raise DataError(f"{where}: seq is a {type(seq).__name__}, expected a list of item ids")
    history: list[int] = []
    padded = False
    for value in seq:
        item, _ = _entry(value, where, "seq item")
        if item == n_items:
            padded = True
            continue
        if padded:
            raise DataError(
                f"{where}: seq has item {item} after the padding id {n_items}; expected padding at the end"
            )
        if not 0 <= item < n_items:
            raise DataError(f"{where}: seq item {item} outside the catalogue 0..{n_items - 1}")
        history.append(item)
    length = _integer(len_seq, where, "len_seq")
    if length != max(1, len(history)):
        raise DataError(f"{where}: len_seq is {length} but seq holds {len(history)} real items")
    target, rating = _entry(nxt, where, "next")
    if not 0 <= target < n_items:
        raise DataError(f"{where}: next item {target} outside the catalogue 0..{n_items - 1}")
    return Sample(tuple(history), target, None, rating)


def read_llara_split(
    path: str | Path, name: str, n_items: int, min_len_seq: int = 3, *, trust_pickle: bool = False
) -> tuple[Split, int]:
    """One pickled split -> (Split of the rows with ``len_seq >= min_len_seq``, rows before the filter).

    Unpickling can run arbitrary code: nothing is read unless ``trust_pickle=True`` (only for
    files from a source you trust); otherwise LlaraError.
    """
    path = Path(path)
    frame = _read_frame(path, trust_pickle=trust_pickle)
    split = Split(name)
    columns = [frame[c].tolist() for c in COLUMNS]
    for pos, (label, seq, len_seq, nxt) in enumerate(zip(frame.index, *columns)):
        where = f"{path} row {pos}" + ("" if label == pos else f" (index {label!r})")
        sample = _parse_row(seq, len_seq, nxt, n_items, where)
        if max(1, len(sample.history)) >= min_len_seq:
            split.append(sample)
    if len(split) == 0:
        raise DataError(
            f"{path}: no rows with len_seq >= {min_len_seq} (of {len(frame)}); expected a non-empty split"
        )
    return split, len(frame)


def import_llara(
    src_dir: str | Path,
    dataset: Literal["movielens", "lastfm", "steam"],
    trust_pickle: bool,
    min_len_seq: int = 3,
) -> Dataset:
    """Read LLaRA's processed ``dataset`` from ``src_dir`` (see the module docstring).

    Item ids are kept as in the reference; ``user`` is None (the pickles carry no user) and
    ``rating`` is the target's rating where the rows carry ``(item, rating)`` pairs. Raises
    LlaraError without reading anything when ``trust_pickle`` is false.
    """
    if dataset not in LLARA_DATASETS:
        raise DataError(
            f"unknown LLaRA dataset {dataset!r}; expected one of {', '.join(LLARA_DATASETS)}"
        )
    src = Path(src_dir)
    if trust_pickle is not True:
        raise LlaraError(f"{src}: refusing to unpickle. {PICKLE_REFUSAL}")
    if not src.is_dir():
        raise DataError(
            f"{src}: not a folder (expected LLaRA's {dataset} split: {', '.join(SPLIT_FILES.values())})"
        )
    domain, n_items, title_file, offset = LLARA_DATASETS[dataset]
    title_path = src / title_file
    raw_titles = (
        read_movielens_items(title_path) if title_file == "u.item" else read_id2name(title_path)
    )
    titles = catalogue(raw_titles, n_items, title_path, offset)
    splits: dict[str, Split] = {}
    rows_before: dict[str, int] = {}
    for name, fname in SPLIT_FILES.items():
        splits[name], rows_before[name] = read_llara_split(src / fname, name, n_items, min_len_seq, trust_pickle=True)
    files = {fname: sha256_file(src / fname) for fname in [*SPLIT_FILES.values(), title_file]}
    source = {
        "kind": "llara-import",
        "dataset": dataset,
        "min_len_seq": min_len_seq,
        "rows_before_filter": rows_before,
        "source_sha256": hashlib.sha256(
            "".join(f"{k}:{v}" for k, v in sorted(files.items())).encode()
        ).hexdigest(),
    }
    return Dataset(
        name=f"llara-{dataset}", domain=domain, titles=titles, splits=splits, source=source
    )
