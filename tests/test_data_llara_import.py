"""Importing LLaRA's pickled splits: the reference counts and titles, the trust flag, the row
formats (pairs / plain ids, Steam's column order and index) and one-line errors on bad input."""

from __future__ import annotations

import sys

import pytest

from llara_core.cli.main import main
from llara_core.data.dataset import Dataset
from llara_core.data.llara_import import import_llara
from llara_core.data.stats import dataset_stats
from llara_core.errors import DataError, LlaraError
from tests.shared_data import shared_data_path

pd = pytest.importorskip("pandas")


@pytest.fixture(scope="module")
def movielens() -> Dataset:
    return import_llara(shared_data_path("llara", "movielens"), "movielens", trust_pickle=True)


@pytest.fixture(scope="module")
def lastfm() -> Dataset:
    return import_llara(shared_data_path("llara", "lastfm"), "lastfm", trust_pickle=True)


def test_movielens_reference_counts_titles_and_ratings(movielens):
    counts = {name: len(split) for name, split in movielens.splits.items()}
    assert counts == {"train": 66_126, "val": 94, "test": 95}
    assert movielens.source["rows_before_filter"] == {"train": 68_388, "val": 94, "test": 95}
    assert movielens.n_items == 1682 and movielens.domain == "movie"
    # MovieLens id - 1; year dropped; trailing article moved to the front
    assert movielens.titles[0] == "Toy Story"
    assert movielens.titles[49] == "Star Wars"
    assert movielens.titles[11] == "The Usual Suspects"
    assert movielens.titles[63] == "The Shawshank Redemption"
    first = movielens.split("train")[0]  # first kept row: the third interaction of user 186
    assert first.history == (299, 321, 290) and first.user is None and first.rating in {3.0, 4.0, 5.0}
    for split in movielens.splits.values():
        assert all(3 <= len(h) <= 10 for h in split.histories)
        assert all(r is not None and 1 <= r <= 5 for r in split.ratings)


def test_lastfm_reference_counts_and_titles(lastfm):
    counts = {name: len(split) for name, split in lastfm.splits.items()}
    assert counts == {"train": 47_872, "val": 122, "test": 122}
    assert lastfm.source["rows_before_filter"] == {"train": 50_800, "val": 122, "test": 122}
    assert lastfm.n_items == 4606 and lastfm.domain == "music"
    assert lastfm.titles[0] == "Morcheeba" and lastfm.titles[2] == "Café Del Mar"
    assert lastfm.titles[4605] == "Abney Park"  # last line, CRLF stripped
    assert all(r is None for r in lastfm.split("test").ratings)


def test_min_len_seq_is_configurable(tmp_path):
    ds = import_llara(shared_data_path("llara", "lastfm"), "lastfm", trust_pickle=True, min_len_seq=1)
    assert len(ds.split("train")) == 50_800
    assert min(len(h) for h in ds.split("train").histories) == 0  # len_seq 1, empty history


def test_saved_import_round_trips_and_stats_match_the_reference(movielens, tmp_path):
    movielens.save(tmp_path / "ml")
    again = Dataset.load(tmp_path / "ml")
    assert again.titles == movielens.titles
    assert again.split("test").histories == movielens.split("test").histories
    stats = dataset_stats(again)
    assert stats["splits"]["train"]["rows"] == 66_126
    assert stats["splits"]["test"]["history_len_counts"] == {10: 95}


def test_cli_refuses_without_trust_flag(llara_cli, tmp_path):
    src = shared_data_path("llara", "lastfm")
    refused = llara_cli("data", "import-llara", str(src), "--dataset", "lastfm", "--out", str(tmp_path / "x"))
    assert refused.returncode != 0
    assert "--trust-pickle" in refused.stderr and "arbitrary code" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "x").exists()


def test_cli_imports_with_the_flag_and_stats_prints_the_reference_counts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    src = shared_data_path("llara", "lastfm")
    out = tmp_path / "fm"
    assert main(["data", "import-llara", str(src), "--dataset", "lastfm", "--out", str(out), "--trust-pickle"]) == 0
    capsys.readouterr()
    assert main(["data", "stats", str(out)]) == 0
    lines = [line.split("│") for line in capsys.readouterr().out.splitlines() if line.startswith("│")]
    assert {cells[1].strip(): cells[2].strip() for cells in lines} == {"train": "47,872", "val": "122", "test": "122"}


# ----------------------------------------------------------------------------- fake sources


def _write_source(folder, frames, titles: str, title_file: str = "id2name.txt"):
    folder.mkdir(parents=True, exist_ok=True)
    for fname, frame in frames.items():
        frame.to_pickle(folder / fname)
    (folder / title_file).write_bytes(titles.encode("utf-8"))
    return folder


def _id2name(n: int) -> str:
    return "".join(f"{i}::Game {i}\r\n" for i in range(n))


def _steam_frame(rows, index):
    """Steam's layout: columns seq, next, len_seq; next a NumPy int64; any index."""
    import numpy as np

    pad = 3581
    data = {
        "seq": [list(h) + [pad] * (10 - len(h)) for h, _ in rows],
        "next": [np.int64(t) for _, t in rows],
        "len_seq": [max(1, len(h)) for h, _ in rows],
    }
    return pd.DataFrame(data, index=index)[["seq", "next", "len_seq"]]


def test_steam_layout_plain_ids_and_non_range_index(tmp_path):
    train = _steam_frame([((), 5), ((5,), 6), ((5, 6), 7), ((5, 6, 7), 3580)], index=[10, 11, 12, 13])
    val = _steam_frame([((1, 2, 3, 4), 9), ((1, 2), 8)], index=["a", "b"])
    test = _steam_frame([((9, 8, 7), 0)], index=[99])
    src = _write_source(
        tmp_path / "steam",
        {"train_data.df": train, "Val_data.df": val, "Test_data.df": test},
        _id2name(3581).replace("\r\n", "\n"),
    )
    ds = import_llara(src, "steam", trust_pickle=True)
    assert ds.domain == "game" and ds.n_items == 3581 and ds.titles[3580] == "Game 3580"
    assert ds.split("train").histories == [(5, 6, 7)] and ds.split("train").targets == [3580]
    assert ds.split("val").histories == [(1, 2, 3, 4)] and ds.source["rows_before_filter"]["val"] == 2
    assert ds.split("test")[0].user is None and ds.split("test")[0].rating is None


def _ml_frame(rows):
    pad = (1682, 0)
    return pd.DataFrame(
        {
            "seq": [[(i, 4) for i in h] + [pad] * (10 - len(h)) for h, _ in rows],
            "len_seq": [max(1, len(h)) for h, _ in rows],
            "next": [(t, 5) for _, t in rows],
        }
    )


def _u_item(n: int = 1682) -> str:
    return "".join(f"{i}|Movie {i}, The (1999)|01-Jan-1999||url|0\r\n" for i in range(1, n + 1))


def _ml_source(tmp_path, train_rows, titles=None):
    ok = _ml_frame([((1, 2, 3), 4)])
    return _write_source(
        tmp_path / "ml",
        {"train_data.df": _ml_frame(train_rows), "Val_data.df": ok, "Test_data.df": ok},
        titles if titles is not None else _u_item(),
        "u.item",
    )


def test_pair_rows_keep_the_target_rating_and_titles_are_cleaned(tmp_path):
    ds = import_llara(_ml_source(tmp_path, [((0, 1, 2, 3), 1681)]), "movielens", trust_pickle=True)
    assert ds.split("train")[0] == ds.split("train")[0].__class__((0, 1, 2, 3), 1681, None, 5.0)
    assert ds.titles[0] == "The Movie 1" and ds.titles[1681] == "The Movie 1682"


def test_refuses_before_reading_anything(tmp_path):
    with pytest.raises(LlaraError, match="arbitrary code"):
        import_llara(tmp_path / "does-not-exist", "movielens", trust_pickle=False)


def test_missing_pandas_gives_the_install_command(tmp_path, monkeypatch):
    src = _ml_source(tmp_path, [((0, 1, 2), 3)])
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(LlaraError, match=r"pip install 'llara\[llara-import\]'"):
        import_llara(src, "movielens", trust_pickle=True)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing_file", r"Val_data\.df: not found"),
        ("wrong_column", r"train_data\.df: missing column\(s\) len_seq; expected seq, len_seq, next"),
        ("target_outside", r"train_data\.df row 1: next item 1700 outside the catalogue 0\.\.1681"),
        ("history_outside", r"train_data\.df row 0: seq item -3 outside the catalogue"),
        ("padding_inside", r"train_data\.df row 0: seq has item 7 after the padding id 1682"),
        ("len_seq_mismatch", r"train_data\.df row 0: len_seq is 9 but seq holds 3 real items"),
        ("empty_split", r"train_data\.df: no rows with len_seq >= 3 \(of 1\)"),
        ("title_missing", r"u\.item: no title for id 1682"),
        ("title_encoding", r"u\.item line 2: text looks UTF-8 encoded, expected .* latin-1"),
        ("not_a_frame", r"train_data\.df: holds a list, expected a pandas DataFrame"),
    ],
)
def test_bad_input_is_a_one_line_error_naming_file_and_row(tmp_path, case, expected):
    rows = [((0, 1, 2), 3), ((0, 1, 2, 3), 4)]
    titles = None
    if case == "target_outside":
        rows = [((0, 1, 2), 3), ((0, 1, 2), 1700)]
    if case == "history_outside":
        rows = [((0, -3, 2), 3)]
    if case == "empty_split":
        rows = [((0,), 3)]
    if case == "title_missing":
        titles = _u_item(1681)
    if case == "title_encoding":
        titles = _u_item().replace("Movie 2,", "Mis\u00e9rables 2,")
    src = _ml_source(tmp_path, rows, titles)
    if case == "missing_file":
        (src / "Val_data.df").unlink()
    if case == "wrong_column":
        _ml_frame(rows).drop(columns=["len_seq"]).to_pickle(src / "train_data.df")
    if case == "padding_inside":
        frame = _ml_frame(rows)
        frame.at[0, "seq"] = [(0, 4), (1682, 0), (7, 3)] + [(1682, 0)] * 7
        frame.to_pickle(src / "train_data.df")
    if case == "len_seq_mismatch":
        frame = _ml_frame(rows)
        frame.at[0, "len_seq"] = 9
        frame.to_pickle(src / "train_data.df")
    if case == "not_a_frame":
        pd.to_pickle([1, 2, 3], src / "train_data.df")
    with pytest.raises(DataError, match=expected) as info:
        import_llara(src, "movielens", trust_pickle=True)
    assert "\n" not in str(info.value)
