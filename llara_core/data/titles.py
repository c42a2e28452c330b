"""Readers of catalogue title files: MovieLens ``u.item`` and LLaRA's ``id2name.txt``.

Both return ``{item id: title}`` with the ids as written in the file. Every problem (missing
file, wrong encoding, malformed line, duplicate id, a title that cannot be used in a prompt) is
a one-line DataError naming the file, the line and what was expected.

:func:`title_problem` is the one rule for titles, applied by every importer and preparer and
by ``Dataset.validate``: a title must not be empty, must not contain the behaviour placeholder
text (``[ItemEmb]``: it would become a behaviour token in the prompt) and must be one line (the
newline ends every answer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from llara_core.errors import DataError

#: the default behaviour placeholder (``llara_core.interfaces.prompt_builder.ITEM_PLACEHOLDER``;
#: kept here as text so that reading data imports nothing else)
PLACEHOLDER = "[ItemEmb]"
#: characters that end a line for ``str.splitlines`` (a title must be one line)
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def title_problem(title: object, reserved: Iterable[str] = (PLACEHOLDER,)) -> str | None:
    """What makes ``title`` unusable in a prompt (None when it is fine).

    ``reserved``: texts a title must not contain (the prompt builder's special tokens).
    """
    if not isinstance(title, str):
        return f"is a {type(title).__name__}, expected text"
    if not title.strip():
        return "is empty"
    for token in reserved:
        if token and token in title:
            return (f"contains the placeholder text {token!r}, which is reserved for behaviour tokens "
                    "(the prompt would get one more placeholder than it has items)")
    if any(c in title for c in LINE_BREAKS):
        return "contains a line break; titles must be one line (a newline ends every answer)"
    return None


def check_title(title: object, where: str, item: object, reserved: Iterable[str] = (PLACEHOLDER,)) -> None:
    """DataError ``"{where}: item {item}: title ... is empty"`` when :func:`title_problem` finds one."""
    problem = title_problem(title, reserved)
    if problem:
        shown = repr(title if not isinstance(title, str) or len(title) <= 60 else title[:57] + "...")
        raise DataError(f"{where}: item {item}: title {shown} {problem}")

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
        title = clean_movielens_title(parts[1])
        check_title(title, f"{path} line {lineno}", int(parts[0]))
        _store(out, path, lineno, int(parts[0]), title)
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
        check_title(name.strip(), f"{path} line {lineno}", int(head))
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
