"""Readers of catalogue title files: MovieLens ``u.item`` and LLaRA's ``id2name.txt``.

Both return ``{item id: title}`` with the ids as written in the file. Every problem (missing
file, wrong encoding, malformed line, duplicate id) is a one-line DataError naming the file,
the line and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from llara_core.errors import DataError

_YEAR = re.compile(r"\s*\(\d{4}\)$")
_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>The|A|An)$")


def clean_movielens_title(raw: str) -> str:
    """``"Usual Suspects, The (1995)"`` -> ``"The Usual Suspects"``.

    Drops a trailing `` (YYYY)`` and moves a trailing ``, The`` / ``, A`` / ``, An`` to the
    front (the reference recipe); other titles are only stripped of surrounding spaces.
    """
    title = _YEAR.sub("", raw.strip()).strip()
    m = _ARTICLE.match(title)
    if m:
        title = f"{m['article']} {m['rest']}"
    return title


def _read_lines(path: Path, encoding: str, expected: str) -> list[str]:
    """Decode ``path`` strictly; CRLF and LF line endings are both accepted."""
    if not path.is_file():
        raise DataError(f"{path}: not found (expected {expected})")
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"{path} line {line}: byte 0x{data[exc.start]:02x} is not valid {encoding} "
            f"(expected {expected} encoded as {encoding})"
        ) from None
    if encoding.lower().replace("-", "") in ("latin1", "iso88591") and any(b > 127 for b in data):
        # latin-1 decodes anything: a UTF-8 file would silently give mojibake titles.
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            first = next(i for i, b in enumerate(data) if b > 127)
            line = data[:first].count(b"\n") + 1
            raise DataError(
                f"{path} line {line}: text looks UTF-8 encoded, expected {expected} in latin-1 "
                "(the MovieLens encoding); convert it with `iconv -f utf-8 -t latin1`"
            )
    return text.splitlines()


def _store(out: dict[int, str], path: Path, lineno: int, item: int, title: str) -> None:
    if item in out:
        raise DataError(f"{path} line {lineno}: item id {item} appears twice")
    out[item] = title


def read_movielens_items(path: str | Path, encoding: str = "latin-1") -> dict[int, str]:
    """MovieLens ``u.item`` (``id|title (year)|date|...``): MovieLens id -> cleaned title."""
    path = Path(path)
    out: dict[int, str] = {}
    for lineno, line in enumerate(
        _read_lines(path, encoding, "MovieLens u.item lines `id|title|...`"), 1
    ):
        if not line.strip():
            continue
        parts = line.split("|")
        if len(parts) < 2 or not parts[0].strip().isdigit():
            raise DataError(
                f"{path} line {lineno}: expected `id|title|...` with a numeric id, got {line[:60]!r}"
            )
        _store(out, path, lineno, int(parts[0]), clean_movielens_title(parts[1]))
    if not out:
        raise DataError(f"{path}: no items (expected MovieLens u.item lines `id|title|...`)")
    return out


def read_id2name(path: str | Path, encoding: str = "utf-8") -> dict[int, str]:
    """LLaRA's ``id2name.txt`` (``id::name`` per line): item id -> name."""
    path = Path(path)
    out: dict[int, str] = {}
    for lineno, line in enumerate(_read_lines(path, encoding, "lines `id::name`"), 1):
        if not line.strip():
            continue
        head, sep, name = line.partition("::")
        if not sep or not head.strip().isdigit():
            raise DataError(
                f"{path} line {lineno}: expected `id::name` with a numeric id, got {line[:60]!r}"
            )
        _store(out, path, lineno, int(head), name.strip())
    if not out:
        raise DataError(f"{path}: no items (expected lines `id::name`)")
    return out


def catalogue(
    titles: Mapping[int, str], n_items: int, path: str | Path, offset: int = 0
) -> list[str]:
    """Titles of ids ``0..n_items-1`` where file id = catalogue id + ``offset``.

    DataError when the file misses an id or holds one outside the catalogue.
    """
    out: list[str] = []
    extra = sorted(i for i in titles if not 0 <= i - offset < n_items)
    if extra:
        raise DataError(
            f"{path}: id {extra[0]} is outside the catalogue {offset}..{n_items - 1 + offset} "
            f"({len(extra)} such ids)"
        )
    missing = [i + offset for i in range(n_items) if i + offset not in titles]
    if missing:
        raise DataError(
            f"{path}: no title for id {missing[0]} ({len(missing)} of {n_items} ids missing; "
            f"expected one line per id {offset}..{n_items - 1 + offset})"
        )
    for i in range(n_items):
        out.append(titles[i + offset])
    return out
