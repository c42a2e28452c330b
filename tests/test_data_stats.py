"""``dataset_stats`` and ``llara data stats`` on a dataset whose numbers are counted by hand."""

from __future__ import annotations

import json

from llara_core.cli.main import main
from llara_core.data.dataset import Dataset, Sample, Split
from llara_core.data.stats import dataset_stats


def _dataset() -> Dataset:
    train = Split.from_samples(
        "train",
        [Sample((0, 1, 2), 3, "a"), Sample((1, 2, 3), 4, "a"), Sample((5,), 3, "b"), Sample((), 6, "c")],
    )
    test = Split.from_samples("test", [Sample((1, 2, 3, 4), 0, None)])
    titles = ["A", "B", "C", "D", "E", "F", "b"]
    return Dataset(name="hand", domain="item", titles=titles, splits={"train": train, "test": test})


def test_counts_by_hand():
    stats = dataset_stats(_dataset())
    assert stats["n_items"] == 7 and stats["duplicate_titles"] == 1  # "B" and "b" case-folded
    train = stats["splits"]["train"]
    assert train["rows"] == 4 and train["users"] == 3
    assert train["items"] == 7 and train["targets"] == 3
    assert train["history_len"] == {"min": 0, "mean": 1.75, "max": 3}
    assert train["history_len_counts"] == {0: 1, 1: 1, 3: 2}
    assert stats["splits"]["test"]["users"] is None and stats["splits"]["test"]["items"] == 5


def test_cli_json_equals_the_function(tmp_path, capsys):
    ds = _dataset()
    ds.save(tmp_path / "hand")
    assert main(["data", "stats", str(tmp_path / "hand"), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = json.loads(json.dumps(dataset_stats(Dataset.load(tmp_path / "hand"))))
    assert printed == expected and printed["content_hash"] == ds.content_hash


def test_cli_on_a_folder_that_is_not_a_dataset(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # the error console wraps at the terminal width
    assert main(["data", "stats", str(tmp_path)]) == 2
    assert "manifest.json: not found" in capsys.readouterr().err
