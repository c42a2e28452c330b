"""Files written so that a kill never leaves a half-written one; candidate sets created safely by
concurrent processes; evaluation leaves the dataset's manifest alone (docs/reliability.md)."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import shutil
import subprocess
import sys
import time

import pytest

from llara_core.cli.main import main
from llara_core.data import Dataset
from llara_core.data.candidates import ensure_candidates, recorded_entry
from llara_core.fileio import atomic_open, atomic_write_text
from llara_core.training.state_io import recover_checkpoint


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "result.json"
    atomic_write_text(path, "old\n")
    with pytest.raises(RuntimeError), atomic_open(path) as fh:
        fh.write("half of the new")
        raise RuntimeError("disk full")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


_SLOW_WRITER = """
import sys, time
from llara_core.fileio import atomic_open
with atomic_open(sys.argv[1], "w") as fh:
    for k in range(10_000):
        fh.write("new line %d\\n" % k)
        if k == 10:
            fh.flush(); print("writing", flush=True)
        time.sleep(0.001)
"""


def test_a_writer_killed_mid_file_leaves_the_previous_version(tmp_path):
    path = tmp_path / "manifest.json"
    atomic_write_text(path, "the previous version\n")
    p = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "writing"
    p.kill()
    p.wait(timeout=60)
    assert path.read_text() == "the previous version\n"


def test_a_checkpoint_killed_between_its_renames_is_put_back(tmp_path):
    run = tmp_path / "run"
    (run / "last.old").mkdir(parents=True)
    (run / "last.old" / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    (run / "last.tmp").mkdir()
    (run / "last.tmp" / "trainer_state.json").write_text(json.dumps({"global_step": 6}))
    assert recover_checkpoint(run / "last")  # the complete newer copy wins
    assert json.loads((run / "last" / "trainer_state.json").read_text())["global_step"] == 6
    assert not recover_checkpoint(run / "last")  # nothing to do once it is in place
    (run / "best.tmp").mkdir()  # an incomplete copy (no state file: killed while writing) is never used
    (run / "best.tmp" / "adapter").mkdir()
    assert not recover_checkpoint(run / "best") and not (run / "best").exists()


def _draw(folder: str, barrier, queue) -> None:
    ds = Dataset.load(folder)
    barrier.wait()
    rows, digest = ensure_candidates(ds, "test", 6, 31)
    queue.put((digest, hashlib.sha256(json.dumps(rows).encode()).hexdigest()))


def test_processes_creating_the_same_candidate_set_at_once_agree_and_leave_the_manifest_alone(llara_world, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(llara_world["data"], folder)
    manifest = (folder / "manifest.json").read_bytes()
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_draw, args=(str(folder), barrier, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert len(set(results)) == 1
    assert (folder / "manifest.json").read_bytes() == manifest
    entry, where = recorded_entry(Dataset.load(folder), "test-n6-seed31")
    assert where.endswith("candidates/test-n6-seed31.json") and entry["sha256"] == results[0][0]
    assert not [p for p in (folder / "candidates").iterdir() if ".tmp" in p.name]


def test_evaluation_draws_a_new_candidate_set_beside_the_data_without_rewriting_its_manifest(llara_world, tmp_path, capsys):
    from rich.console import Console

    from llara_core.training.run import train
    from tests.llara_world import world_config

    folder = tmp_path / "data"
    shutil.copytree(llara_world["data"], folder)
    cfg = world_config({**llara_world, "data": folder}, max_steps=1)
    train(cfg, tmp_path / "run", Console(quiet=True))
    manifest = folder / "manifest.json"
    before = (manifest.read_bytes(), manifest.stat().st_mtime_ns)
    time.sleep(0.01)
    assert main(["evaluate", str(tmp_path / "run"), "--seeds", "7", "--mode", "score", "--limit", "3"]) == 0
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before
    assert (folder / "candidates" / "test-n6-seed7.jsonl").is_file()
    assert json.loads((folder / "candidates" / "test-n6-seed7.json").read_text())["dataset_hash"] == json.loads(before[0])["content_hash"]
    result = json.loads((tmp_path / "run" / "eval" / "test-score.json").read_text())
    assert result["candidate_sha256"]["7"] == ensure_candidates(Dataset.load(folder), "test", 6, 7)[1]
    # `llara data candidates` is the command that records sets in the manifest (replaced atomically)
    capsys.readouterr()
    assert main(["data", "candidates", str(folder), "--split", "test", "--n", "6", "--seeds", "7"]) == 0
    assert json.loads(manifest.read_text())["candidates"]["test-n6-seed7"]["sha256"] == result["candidate_sha256"]["7"]


def test_run_files_are_written_whole(llara_world, tmp_path):
    """Every file of a run folder is complete JSON / safetensors (no temporaries left behind)."""
    from rich.console import Console
    from safetensors.torch import load_file

    from llara_core.training.run import train
    from tests.llara_world import world_config

    train(world_config(llara_world, max_steps=2, checkpoint_every=1), tmp_path / "run", Console(quiet=True))
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert not [p for p in files if ".tmp" in p.name or p.parent.name.endswith((".tmp", ".old"))]
    for p in files:
        if p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".safetensors":
            load_file(str(p))
