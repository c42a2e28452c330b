"""The MovieLens-100K raw preparer: the reference recipe on the shared raw files, agreement with
LLaRA's split, the seeded random split, and the recipe's details on small hand-made files."""

from __future__ import annotations

import pytest

from llara_core.cli.main import main
from llara_core.data.compare import dataset_agreement
from llara_core.data.dataset import Dataset
from llara_core.data.movielens import (
    REFERENCE_TEST_USERS,
    REFERENCE_VAL_USERS,
    prepare_movielens,
)
from llara_core.errors import DataError
from tests.shared_data import shared_data_path


@pytest.fixture(scope="module")
def reference_rebuilt() -> Dataset:
    return prepare_movielens(shared_data_path("ml-100k"))


def test_reference_assignment_gives_the_reference_users_and_counts(reference_rebuilt):
    ds = reference_rebuilt
    assert ds.source["interactions"] == 82_519
    assert ds.source["samples_before_filter"] == {"train": 68_388, "val": 94, "test": 95}
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 66_126, "val": 94, "test": 95}
    assert set(ds.split("val").users) == set(REFERENCE_VAL_USERS)
    assert set(ds.split("test").users) == set(REFERENCE_TEST_USERS)
    assert ds.split("train").users[0] == 186  # users in order of first appearance
    assert ds.titles[0] == "Toy Story" and ds.titles[11] == "The Usual Suspects"


def test_agreement_with_the_reference_split_is_as_documented(reference_rebuilt):
    """docs/datasets.md reports these numbers; the tie order explains the differences."""
    pytest.importorskip("pandas")
    from llara_core.data.llara_import import import_llara

    reference = import_llara(shared_data_path("llara", "movielens"), "movielens", trust_pickle=True)
    report = dataset_agreement(reference_rebuilt, reference)
    assert report["same_titles"]
    val, test, train = (report["splits"][k] for k in ("val", "test", "train"))
    assert val["rows"] == [94, 94] and test["rows"] == [95, 95]
    assert (val["same_target"], val["same_history"], val["same_history_set"]) == (69, 14, 44)
    assert (test["same_target"], test["same_history"], test["same_history_set"]) == (70, 13, 47)
    assert (train["same_target"], train["same_sample"]) == (34_906, 4_954)


def test_random_split_is_seeded_and_disjoint():
    raw = shared_data_path("ml-100k")
    a = prepare_movielens(raw, split="random", seed=0)
    b = prepare_movielens(raw, split="random", seed=0)
    c = prepare_movielens(raw, split="random", seed=1)
    users = {k: set(v.users) for k, v in a.splits.items()}
    assert (len(users["train"]), len(users["val"]), len(users["test"])) == (755, 94, 94)
    assert not users["val"] & users["test"] and not (users["val"] | users["test"]) & users["train"]
    assert a.split("test").targets == b.split("test").targets
    assert set(c.split("test").users) != users["test"]


# ----------------------------------------------------------------------------- hand-made raw files


def _raw(tmp_path, lines: list[str], n_items: int = 12):
    folder = tmp_path / "raw"
    folder.mkdir(exist_ok=True)
    (folder / "u.data").write_text("".join(line + "\n" for line in lines))
    (folder / "u.item").write_bytes(
        "".join(f"{i}|Film {i} (1990)|x||u|0\n" for i in range(1, n_items + 1)).encode("latin-1")
    )
    return folder


def _rows(users: int = 30, per_user: int = 6) -> list[str]:
    return [f"{u}\t{1 + (u + k) % 12}\t4\t{1000 + k}" for u in range(1, users + 1) for k in range(per_user)]


def test_first_row_rating_threshold_and_stable_ties(tmp_path, monkeypatch):
    from llara_core.data import movielens

    lines = ["1\t1\t5\t10", "1\t2\t5\t10", "1\t3\t2\t11", "1\t4\t4\t10", "1\t5\t3\t12", "1\t6\t5\t9"]
    rows = movielens.read_ratings(_raw(tmp_path, lines) / "u.data", 12)
    order, seqs = movielens.user_sequences(rows, min_rating=3)
    # first line dropped; rating 2 dropped; time 9 first; the three ties at 10 keep file order
    assert order == [1] and seqs[1].items == [5, 1, 3, 4]
    kept = movielens.read_ratings(_raw(tmp_path, lines) / "u.data", 12, drop_first_row=False)
    assert movielens.user_sequences(kept, 3)[1][1].items == [5, 0, 1, 3, 4]


def test_cli_random_split_on_small_files(tmp_path, capsys):
    raw = _raw(tmp_path, _rows())
    out = tmp_path / "out"
    assert main(["data", "prepare", "movielens", "--raw", str(raw), "--out", str(out), "--split", "random", "--seed", "4"]) == 0
    ds = Dataset.load(out)
    assert {len(set(s.users)) for s in ds.splits.values()} == {24, 3}
    assert all(len(h) == 5 for h in ds.split("test").histories)  # last of 6 interactions
    assert len(ds.split("train")) == 24 * 3  # positions 3, 4, 5 have >= 3 history items
    assert ds.source["seed"] == 4 and ds.source["split"] == "random"


@pytest.mark.parametrize(
    "lines, expected",
    [
        (["h", "1\t1700\t4\t5"], r"u\.data line 2: item 1700 outside the catalogue 1\.\.1682"),
        (["h", "1\t2\t4"], r"u\.data line 2: expected 4 tab-separated numbers"),
        (["h", "1\tx\t4\t5"], r"u\.data line 2: expected 4 tab-separated numbers"),
        (["h"], r"u\.data: no ratings"),
    ],
)
def test_bad_u_data_is_a_one_line_error(tmp_path, lines, expected):
    from llara_core.data.movielens import read_ratings

    with pytest.raises(DataError, match=expected) as info:
        read_ratings(_raw(tmp_path, lines) / "u.data", 1682)
    assert "\n" not in str(info.value)


def test_reference_split_needs_the_reference_users_and_a_complete_catalogue(tmp_path):
    raw = _raw(tmp_path, _rows(), n_items=1682)
    with pytest.raises(DataError, match=r"reference val/test user \d+ has no rating"):
        prepare_movielens(raw)
    (raw / "u.item").write_text("1|One (1990)|x\n3|Three (1990)|x\n")
    with pytest.raises(DataError, match=r"u\.item: no title for id 2 \(1 of 3 ids missing"):
        prepare_movielens(raw)
    _raw(tmp_path, [])
    (raw / "u.data").unlink()
    with pytest.raises(DataError, match=r"u\.data: not found"):
        prepare_movielens(raw, split="random")
