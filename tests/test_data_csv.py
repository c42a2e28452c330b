"""The generic CSV preparer: both split modes on hand-checked data, options, and one-line
errors for missing files, wrong columns, unknown items, bad encodings and empty splits."""

from __future__ import annotations

import pytest

from llara_core.cli.main import main
from llara_core.data.csv_prepare import CsvOptions, prepare_csv
from llara_core.data.dataset import Dataset
from llara_core.errors import DataError

ITEMS = "item,title,text\n" + "".join(f"i{k},Title {k},about {k}\n" for k in range(10))


def _files(tmp_path, interactions: str, items: str = ITEMS, encoding: str = "utf-8"):
    (tmp_path / "inter.csv").write_bytes(interactions.encode(encoding))
    (tmp_path / "items.csv").write_bytes(items.encode(encoding))
    return tmp_path / "inter.csv", tmp_path / "items.csv"


def _interactions(users: int, per_user: int) -> str:
    rows = ["user,item,timestamp,rating"]
    for u in range(users):
        for k in range(per_user):  # written newest first: the preparer must sort by time
            t = per_user - k
            rows.append(f"u{u},i{(u + t) % 10},{100 + t},{1 + t % 5}")
    return "\n".join(rows) + "\n"


def test_leave_last_out_uses_each_users_last_two_items(tmp_path):
    inter, items = _files(tmp_path, _interactions(users=3, per_user=6))
    ds = prepare_csv(inter, items, name="t", options=CsvOptions(split="leave-last-out", min_history=0))
    # user u0 in time order: items (0+1)..(0+6) % 10 -> 1..6
    assert ds.split("test")[0].history == (1, 2, 3, 4, 5) and ds.split("test")[0].target == 6
    assert ds.split("val")[0].history == (1, 2, 3, 4) and ds.split("val")[0].target == 5
    train_u0 = [s for s in ds.split("train") if s.user == "u0"]
    assert [s.target for s in train_u0] == [1, 2, 3, 4] and train_u0[0].history == ()
    assert ds.split("test")[0].rating == 2.0  # newest row: t = 6, rating 1 + 6 % 5
    assert ds.titles[3] == "Title 3" and ds.texts[3] == "about 3"


def test_user_split_history_window_min_history_and_rating_threshold(tmp_path):
    inter, items = _files(tmp_path, _interactions(users=20, per_user=8))
    opts = CsvOptions(split="user", val_frac=0.1, test_frac=0.2, seed=3, history_len=4, min_history=2)
    ds = prepare_csv(inter, items, name="t", domain="game", options=opts)
    users = {k: set(v.users) for k, v in ds.splits.items()}
    assert (len(users["train"]), len(users["val"]), len(users["test"])) == (14, 2, 4)
    assert len(ds.split("train")) == 14 * 6  # positions 2..7
    assert all(len(h) <= 4 for h in ds.split("train").histories)
    assert all(len(h) == 4 for h in ds.split("test").histories)
    assert ds == prepare_csv(inter, items, name="t", domain="game", options=opts)
    rated = prepare_csv(inter, items, name="t", options=CsvOptions(min_rating=3, min_history=0))
    assert all(r >= 3 for s in rated.splits.values() for r in s.ratings)


def test_iso_dates_custom_columns_and_delimiter(tmp_path):
    rows = ["who;what;when"] + [
        f"{u};i{k};2024-01-0{k + 1}T10:00:00" for u in ("a", "b", "c", "d") for k in (3, 0, 2, 1)
    ]
    inter, items = _files(tmp_path, "\n".join(rows) + "\n", ITEMS.replace(",", ";").replace("item;", "what;"))
    opts = CsvOptions(
        split="leave-last-out", min_history=1, delimiter=";", user_col="who", item_col="what", time_col="when"
    )
    ds = prepare_csv(inter, items, name="t", options=opts)
    assert ds.split("test").histories[0] == (0, 1, 2) and ds.split("test").targets[0] == 3


def test_cli_prepares_and_saves(tmp_path, capsys):
    inter, items = _files(tmp_path, _interactions(users=20, per_user=6))
    out = tmp_path / "ds"
    code = main(["data", "prepare", "csv", "--interactions", str(inter), "--items", str(items), "--out", str(out),
                 "--split", "leave-last-out", "--domain", "music"])
    assert code == 0
    ds = Dataset.load(out)
    assert ds.name == "ds" and ds.domain == "music" and len(ds.split("test")) == 20
    assert ds.source["kind"] == "csv" and ds.source["options"]["split"] == "leave-last-out"


def test_options_are_validated():
    with pytest.raises(ValueError, match="extra"):
        CsvOptions(splt="user")
    with pytest.raises(ValueError, match="history_len"):
        CsvOptions(history_len=0)


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", r"inter\.csv: not found \(expected an interactions CSV with columns user, item, timestamp\)"),
        ("wrong_column", r"inter\.csv line 1: missing column 'timestamp'; expected an interactions CSV .* found user, item, time"),
        ("unknown_item", r"inter\.csv line 3: item 'zz' is not in the items CSV \(outside the catalogue\)"),
        ("bad_time", r"inter\.csv line 2: timestamp 'yesterday' is not a number or an ISO 8601 date"),
        ("encoding", r"items\.csv line 4: byte 0xe9 is not valid utf-8 \(expected an items CSV encoded as utf-8"),
        ("duplicate_item", r"items\.csv line 3: item 'i0' appears twice"),
        ("empty_title", r"items\.csv line 2: empty 'title'"),
        ("empty_split", r"inter\.csv: split val is empty \(0 samples"),
        ("no_rows", r"inter\.csv: no interactions"),
    ],
)
def test_bad_input_is_a_one_line_error(tmp_path, case, expected):
    inter_text, items_text, encoding = _interactions(users=20, per_user=6), ITEMS, "utf-8"
    if case == "wrong_column":
        inter_text = inter_text.replace("timestamp", "time")
    if case == "unknown_item":
        lines = inter_text.splitlines()
        lines[2] = "u0,zz,5,1"
        inter_text = "\n".join(lines)
    if case == "bad_time":
        inter_text = inter_text.replace("u0,i6,106", "u0,i6,yesterday")
    if case == "encoding":
        items_text, encoding = ITEMS.replace("Title 2", "Titl\u00e9 2"), "latin-1"
    if case == "duplicate_item":
        items_text = ITEMS.replace("i1,", "i0,")
    if case == "empty_title":
        items_text = ITEMS.replace("Title 0", "")
    if case == "empty_split":
        inter_text = _interactions(users=4, per_user=6)
    if case == "no_rows":
        inter_text = "user,item,timestamp\n"
    inter, items = _files(tmp_path, inter_text, items_text, encoding)
    if case == "missing":
        inter.unlink()
    with pytest.raises(DataError, match=expected) as info:
        prepare_csv(inter, items, name="t", options=CsvOptions(test_frac=0.1))
    assert "\n" not in str(info.value)
