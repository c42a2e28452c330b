"""Persisted candidate sets: content rules, reproducibility across processes and worker counts,
and the ``llara data candidates`` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from llara_core.cli.main import main
from llara_core.data.candidates import (
    draw_split,
    ensure_candidates,
    load_candidates,
    write_candidates,
)
from llara_core.data.dataset import Dataset
from llara_core.data.synthetic import make_synthetic
from llara_core.errors import DataError


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory) -> Dataset:
    folder = tmp_path_factory.mktemp("cands") / "syn"
    make_synthetic(seed=3).save(folder)
    return folder


def test_every_set_holds_the_target_once_no_history_item_and_no_duplicate(synthetic_dir):
    ds = Dataset.load(synthetic_dir)
    for split in ("train", "test"):
        data = ds.split(split)
        rows = draw_split(ds, split, n=20, seed=0)
        assert len(rows) == len(data)
        targets_at = set()
        for cands, hist, target in zip(rows, data.histories, data.targets):
            assert len(cands) == 20 and len(set(cands)) == 20
            assert cands.count(target) == 1
            assert not set(cands) & (set(hist) - {target})
            assert all(0 <= c < ds.n_items for c in cands)
            targets_at.add(cands.index(target))
        assert len(targets_at) > 10  # shuffled: the target is not always in one place


def test_hash_is_the_same_across_worker_counts_and_differs_across_seeds(synthetic_dir, tmp_path):
    ds = Dataset.load(synthetic_dir)
    assert draw_split(ds, "train", 20, 0, workers=1) == draw_split(ds, "train", 20, 0, workers=3)
    one = write_candidates(ds, "test", 20, 0, workers=1)["sha256"]
    two = write_candidates(ds, "test", 20, 0, workers=2)["sha256"]
    other = write_candidates(ds, "test", 20, 1)["sha256"]
    assert one == two != other
    rows, digest = load_candidates(ds, "test", 20, 0)
    assert digest == one and rows == draw_split(ds, "test", 20, 0)


_DRAW = (
    "import hashlib, json, sys;"
    "from llara_core.data.dataset import Dataset;"
    "from llara_core.data.candidates import draw_split;"
    "rows = draw_split(Dataset.load(sys.argv[1]), 'test', 20, int(sys.argv[2]));"
    "print(hashlib.sha256(json.dumps(rows).encode()).hexdigest())"
)


def test_identical_across_two_fresh_processes(synthetic_dir):
    def draw(seed: int) -> str:
        out = subprocess.run(
            [sys.executable, "-c", _DRAW, str(synthetic_dir), str(seed)],
            capture_output=True, text=True, timeout=120, env={"PYTHONHASHSEED": str(seed + 11)},
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    first, second = draw(0), draw(0)
    assert len(first) == 64 and first == second != draw(1)


def test_ensure_draws_once_and_a_tampered_file_is_refused(synthetic_dir, tmp_path):
    folder = tmp_path / "copy"
    Dataset.load(synthetic_dir).save(folder)
    ds = Dataset.load(folder)
    rows, digest = ensure_candidates(ds, "val", 10, 7)
    assert ensure_candidates(Dataset.load(folder), "val", 10, 7) == (rows, digest)
    path = folder / "candidates" / "val-n10-seed7.jsonl"
    path.write_text(path.read_text().replace("[", "[0, ", 1))
    with pytest.raises(DataError, match="differs from the manifest"):
        load_candidates(Dataset.load(folder), "val", 10, 7)


def test_cli_prints_the_same_hashes_when_run_again(synthetic_dir, capsys):
    args = ["data", "candidates", str(synthetic_dir), "--split", "test", "--n", "20", "--seeds", "0,1,2,3,4"]
    assert main(args) == 0
    first = capsys.readouterr().out.splitlines()
    assert main([*args, "--workers", "2"]) == 0
    second = capsys.readouterr().out.splitlines()
    hashes = [line.split("sha256 ")[1] for line in first]
    assert len(hashes) == 5 and len(set(hashes)) == 5
    assert first == second
    assert [f"test-n20-seed{s}" for s in range(5)] == [line.split()[0] for line in first]


def test_cli_rejects_bad_seeds_and_unknown_split(synthetic_dir, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # the error console wraps at the terminal width
    assert main(["data", "candidates", str(synthetic_dir), "--seeds", "0,x"]) == 2
    assert "expected comma-separated integers" in capsys.readouterr().err
    assert main(["data", "candidates", str(synthetic_dir), "--split", "dev"]) == 2
    assert "split 'dev' not found" in capsys.readouterr().err
