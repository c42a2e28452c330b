"""Two CPU processes under Fabric DDP (gloo, loopback): training equals one process with the same
global batch, the curriculum decisions are identical on both ranks, sharded evaluation equals a
single-process one exactly (7 samples over 2 ranks), and a run stopped under 2 processes resumes
under 1 from its saved step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("distributed_worker.py")


def run_worker(*args: str, env: dict[str, str] | None = None) -> None:
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    out = subprocess.run([sys.executable, str(WORKER), *args], capture_output=True, text=True, env=full_env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return {**load_file(str(run / "last" / "adapter" / "adapter_model.safetensors")), **{"projector." + k: v for k, v in load_file(str(run / "last" / "projector.safetensors")).items()}}


@pytest.fixture(scope="module")
def world_dir(llara_world) -> Path:
    return llara_world["data"].parent


@pytest.mark.slow
def test_two_process_ddp_training_equals_one_process(world_dir, tmp_path):
    run_worker("train", str(world_dir), str(tmp_path / "one"), "1")
    run_worker("train", str(world_dir), str(tmp_path / "two"), "2")
    a, b = weights(tmp_path / "one" / "run"), weights(tmp_path / "two" / "run")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4), k
    assert any(not torch.equal(v, torch.zeros_like(v)) for k, v in a.items() if "lora_B" in k)  # it trained
    r0, r1 = (json.loads((tmp_path / "two" / f"decisions-rank{r}.json").read_text()) for r in (0, 1))
    assert r0["decisions"] == r1["decisions"] and len(r0["decisions"]) == 6
    single = json.loads((tmp_path / "one" / "decisions-rank0.json").read_text())
    assert [d[:2] for d in single["decisions"]] == [d[:2] for d in r0["decisions"]]
    info = json.loads((tmp_path / "two" / "run" / "run_info.json").read_text())
    assert info["effective_batch"] == 8
    # logs and checkpoints written once: one metrics record per step, by rank 0
    steps = [json.loads(x)["step"] for x in (tmp_path / "two" / "run" / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert steps == list(range(1, 7))


@pytest.mark.slow
def test_sharded_evaluation_equals_single_process(world_dir, tmp_path):
    run_worker("evaluate", str(world_dir), str(tmp_path / "one"), "1")
    run_worker("evaluate", str(world_dir), str(tmp_path / "two"), "2")
    one = json.loads((tmp_path / "one" / "eval-rank0.json").read_text())
    for r in (0, 1):
        two = json.loads((tmp_path / "two" / f"eval-rank{r}.json").read_text())
        assert two["per_sample"] == one["per_sample"]  # every sample once, same values
        assert two["scoring"]["summary"] == one["scoring"]["summary"]
        assert two["generation"]["summary"] == one["generation"]["summary"]
    assert len(one["per_sample"]["scoring"][0]["hr@1"]) == 7


@pytest.mark.slow
def test_a_two_process_run_resumes_under_one_process(world_dir, tmp_path):
    run_worker("train", str(world_dir), str(tmp_path / "x"), "2", env={"STOP_AT": "2"})  # stop requested while drawing step 3: stops after it
    state = json.loads((tmp_path / "x" / "run" / "last" / "trainer_state.json").read_text())
    assert state["global_step"] == 3 and state["rng"]["world_size"] == 2
    run_worker("resume", str(world_dir), str(tmp_path / "x"), "1")
    assert json.loads((tmp_path / "x" / "resumed-from-rank0.json").read_text()) == {"step": 3, "world": 1}
    final = json.loads((tmp_path / "x" / "run" / "last" / "trainer_state.json").read_text())
    assert final["global_step"] == 6


def test_the_strategies_a_config_accepts_are_fabrics():
    """The config validates strategy names without importing Lightning: its list must equal
    Fabric's registry plus the two names Fabric resolves itself."""
    from lightning_fabric.strategies import STRATEGY_REGISTRY

    from llara_core.config.schema import FABRIC_STRATEGIES

    assert set(FABRIC_STRATEGIES) == set(STRATEGY_REGISTRY.available_strategies()) | {"auto", "single_device"}


def test_launch_flags_change_how_a_run_is_launched_not_what_it_computes(llara_world):
    from llara_core.cli.main import build_parser
    from llara_core.cli.train_cmd import launch_settings
    from llara_core.errors import LlaraError
    from llara_core.training.run import with_launch
    from tests.llara_world import world_config

    args = build_parser().parse_args(["train", "c.yaml", "--devices", "2", "--strategy", "ddp", "--num-nodes", "3"])
    launch = launch_settings(args)
    assert launch == {"devices": 2, "strategy": "ddp", "num_nodes": 3}
    cfg = world_config(llara_world, max_steps=2)
    moved = with_launch(cfg, launch)
    assert (moved.training.devices, moved.training.strategy, moved.training.num_nodes) == (2, "ddp", 3)
    assert moved.training.model_dump(exclude=set(launch)) == cfg.training.model_dump(exclude=set(launch))
    with pytest.raises(LlaraError, match="not launch settings"):
        with_launch(cfg, {"lr": 1.0})


def test_a_launched_rank_is_recognised_from_the_launchers_environment(monkeypatch):
    from llara_core.distributed import launched_child

    for var in ("RANK", "LOCAL_RANK", "NODE_RANK"):
        monkeypatch.delenv(var, raising=False)
    assert not launched_child()
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert not launched_child()
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert launched_child()
