"""Title files: MovieLens u.item (latin-1, year and article handling) and id2name.txt (UTF-8,
CRLF or LF), with one-line errors naming file and line."""

from __future__ import annotations

import pytest

from llara_core.data.titles import (
    catalogue,
    clean_movielens_title,
    read_id2name,
    read_movielens_items,
)
from llara_core.errors import DataError


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("Toy Story (1995)", "Toy Story"),
        ("Usual Suspects, The (1995)", "The Usual Suspects"),
        ("Life Less Ordinary, A (1997)", "A Life Less Ordinary"),
        ("American in Paris, An (1951)", "An American in Paris"),
        ("Heidi Fleiss: Hollywood Madam (1995) ", "Heidi Fleiss: Hollywood Madam"),
        ("City of Lost Children, The (Cité des enfants perdus, La) (1995)",
         "City of Lost Children, The (Cité des enfants perdus, La)"),
        ("unknown", "unknown"),
        ("Postino, Il (1994)", "Postino, Il"),
    ],
)
def test_movielens_titles_drop_the_year_and_move_english_articles(raw, clean):
    assert clean_movielens_title(raw) == clean


def test_u_item_is_read_as_latin1_with_crlf(tmp_path):
    path = tmp_path / "u.item"
    path.write_bytes("1|Misérables, Les (1995)|x\r\n2|Net, The (1995)|x\r\n".encode("latin-1"))
    assert read_movielens_items(path) == {1: "Misérables, Les", 2: "The Net"}


def test_id2name_accepts_crlf_and_lf_and_keeps_double_colons_in_names(tmp_path):
    path = tmp_path / "id2name.txt"
    path.write_bytes("0::Café Del Mar\r\n1::Artist::Name\n2::Sigur Rós\r\n".encode())
    assert read_id2name(path) == {0: "Café Del Mar", 1: "Artist::Name", 2: "Sigur Rós"}


@pytest.mark.parametrize(
    "content, encoding, expected",
    [
        ("0::A\n1::Café\n", "latin-1", r"id2name\.txt line 2: byte 0xe9 is not valid utf-8 \(expected lines `id::name`"),
        ("0::A\nB\n", "utf-8", r"id2name\.txt line 2: expected `id::name` with a numeric id, got 'B'"),
        ("0::A\n0::B\n", "utf-8", r"id2name\.txt line 2: item id 0 appears twice"),
        ("\n\n", "utf-8", r"id2name\.txt: no items"),
    ],
)
def test_bad_id2name_is_a_one_line_error(tmp_path, content, encoding, expected):
    path = tmp_path / "id2name.txt"
    path.write_bytes(content.encode(encoding))
    with pytest.raises(DataError, match=expected) as info:
        read_id2name(path)
    assert "\n" not in str(info.value)


def test_missing_title_file_and_catalogue_gaps(tmp_path):
    with pytest.raises(DataError, match=r"u\.item: not found"):
        read_movielens_items(tmp_path / "u.item")
    with pytest.raises(DataError, match=r"ids\.txt: no title for id 1 \(1 of 3 ids missing"):
        catalogue({0: "a", 2: "c"}, 3, tmp_path / "ids.txt")
    with pytest.raises(DataError, match=r"ids\.txt: id 7 is outside the catalogue 0\.\.1"):
        catalogue({0: "a", 1: "b", 7: "x"}, 2, tmp_path / "ids.txt")
    assert catalogue({1: "a", 2: "b"}, 2, tmp_path / "u.item", offset=1) == ["a", "b"]
