"""Several CPU processes under Fabric DDP (gloo, loopback).

Through the worker (tests/distributed_worker.py): training equals one process with the same
global batch, the curriculum decisions are identical on both ranks, sharded evaluation and the
sharded val loss equal a single-process run exactly (7 and 12 samples over 2 ranks). Through the
real ``llara train`` command: ``--strategy ddp_spawn`` trains, and a SIGTERM that reaches one
rank only stops both at the same step with one checkpoint; a ``--strategy ddp`` run validating
inside training is SIGKILLed and resumes under one process from its saved step with the same
global batch. The rest are checks without processes (launcher environments, strategies,
resuming at another world size, a changed item encoder).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from llara_core.errors import LlaraError

WORKER = Path(__file__).with_name("distributed_worker.py")


def run_worker(*args: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(WORKER), *args], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return {**load_file(str(run / "last" / "adapter" / "adapter_model.safetensors")), **{"projector." + k: v for k, v in load_file(str(run / "last" / "projector.safetensors")).items()}}


@pytest.fixture(scope="module")
def world_dir(llara_world) -> Path:
    return llara_world["data"].parent


@pytest.fixture(scope="module")
def worker_runs(world_dir, tmp_path_factory) -> Path:
    """Sharded evaluation, then a few training steps, under 1 and under 2 processes (OUT/one, OUT/two)."""
    out = tmp_path_factory.mktemp("worker")
    for name, devices in (("one", "1"), ("two", "2")):
        run_worker("evaluate,train", str(world_dir), str(out / name), devices)
    return out


@pytest.mark.slow
def test_two_process_ddp_training_equals_one_process(worker_runs):
    a, b = weights(worker_runs / "one" / "run"), weights(worker_runs / "two" / "run")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5, rtol=1e-4), k
    assert any(not torch.equal(v, torch.zeros_like(v)) for k, v in a.items() if "lora_B" in k)  # it trained
    r0, r1 = (json.loads((worker_runs / "two" / f"decisions-rank{r}.json").read_text()) for r in (0, 1))
    assert r0["decisions"] == r1["decisions"] and len(r0["decisions"]) == 6
    single = json.loads((worker_runs / "one" / "decisions-rank0.json").read_text())
    assert [d[:2] for d in single["decisions"]] == [d[:2] for d in r0["decisions"]]
    info = json.loads((worker_runs / "two" / "run" / "run_info.json").read_text())
    assert info["effective_batch"] == 8
    # logs and checkpoints written once: one metrics record per step, by rank 0
    steps = [json.loads(x)["step"] for x in (worker_runs / "two" / "run" / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert steps == list(range(1, 7))


@pytest.mark.slow
def test_sharded_evaluation_equals_single_process(worker_runs):
    one = json.loads((worker_runs / "one" / "eval-rank0.json").read_text())
    for r in (0, 1):
        two = json.loads((worker_runs / "two" / f"eval-rank{r}.json").read_text())
        assert two["per_sample"] == one["per_sample"]  # every sample once, same values
        assert two["scoring"]["summary"] == one["scoring"]["summary"]
        assert two["generation"]["summary"] == one["generation"]["summary"]
        assert two["val_loss"] == one["val_loss"]  # batches 0, 1 on two ranks, 2 (+ padding) on one
    assert len(one["per_sample"]["scoring"][0]["hr@1"]) == 7


@pytest.mark.slow
def test_llara_fit_in_worker_processes_hands_back_the_weights_and_one_line_errors(world_dir, tmp_path):
    """``ddp_fork`` stands for the worker-process strategies here: it re-imports nothing, so it
    is cheaper than ``ddp_spawn``, which the command-line test below runs."""
    run_worker("fit", str(world_dir), str(tmp_path), "2", "ddp_fork")
    result = json.loads((tmp_path / "fit.json").read_text())
    assert result["step"] == 2 and result["trained"] and result["equal_last"]
    kind, message = result["error"]
    assert kind == "LlaraError" and message.startswith("training.batch_size 10000 is larger than the train split") and "\n" not in message


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
    from llara_core.distributed import RANK_VARIABLES, launched_child

    for var in RANK_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    assert not launched_child()
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert not launched_child()
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert launched_child()
    monkeypatch.delenv("LOCAL_RANK")
    # srun sets only SLURM's variables: task 0 writes the run folder, task 3 (node 1) does not
    for var, value in {"SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NTASKS": "4"}.items():
        monkeypatch.setenv(var, value)
    assert not launched_child()
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    monkeypatch.setenv("SLURM_NODEID", "1")
    assert launched_child()


def test_a_typo_in_the_strategy_gets_the_closest_name(llara_world):
    from llara_core.errors import ConfigError
    from tests.llara_world import world_config

    with pytest.raises(ConfigError, match=r"training.strategy: .*unknown strategy 'dpp_spawn'; did you mean 'ddp_spawn'\?"):
        world_config(llara_world, strategy="dpp_spawn")


@pytest.mark.parametrize("strategy", ["fsdp", "fsdp_cpu_offload", "deepspeed_stage_2"])
def test_a_sharding_strategy_is_refused_before_anything_is_written(llara_world, tmp_path, strategy):
    from llara_core.training.run import train
    from tests.llara_world import world_config

    with pytest.raises(LlaraError, match=rf"^training.strategy '{strategy}' shards parameters or optimiser state .* trains only with ddp") as err:
        train(world_config(llara_world, strategy=strategy), tmp_path / "run")
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


def _checkpoint_state(folder: Path, **state) -> Path:
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 3, **state}))
    return folder


def test_resuming_at_another_world_size_keeps_the_global_batch_or_says_why_not(llara_world, tmp_path):
    from llara_core.training.run import _keep_global_batch
    from tests.llara_world import world_config

    cfg = world_config(llara_world, batch_size=3)
    last = _checkpoint_state(tmp_path / "a" / "last", batch_size=3, world_size=2)
    assert _keep_global_batch(cfg, last, 2, None) is cfg
    assert _keep_global_batch(cfg, last, 1, None).training.batch_size == 6
    assert _keep_global_batch(cfg, last, 3, None).training.batch_size == 2
    with pytest.raises(LlaraError, match=r"saved under 2 process\(es\) × training.batch_size 3; 4 processes cannot share its global batch of 6 evenly"):
        _keep_global_batch(cfg, last, 4, None)
    # a checkpoint from before the batch was recorded: its RNG states count its processes
    older = _checkpoint_state(tmp_path / "b" / "last", rng={"world_size": 2})
    assert _keep_global_batch(cfg, older, 1, None).training.batch_size == 6


def test_resume_refuses_an_item_encoder_folder_that_changed_since_the_checkpoint(llara_world, tmp_path):
    import shutil

    from llara_core.model.artefact import ArtefactMismatchError
    from llara_core.slots import ITEM_ENCODERS
    from llara_core.sr.checkpoint import save_item_encoder
    from llara_core.training.run import resume, train
    from tests.llara_world import world_config

    encoder_dir = tmp_path / "sasrec"
    shutil.copytree(llara_world["sasrec"], encoder_dir)
    run = tmp_path / "run"
    train(world_config({**llara_world, "sasrec": encoder_dir}, max_steps=2, accelerator="cpu", checkpoint_every=1), run)
    (run / "train_summary.json").unlink()  # as if killed after its last checkpoint
    torch.manual_seed(1)  # the folder re-trained: another encoder under the same name
    save_item_encoder(ITEM_ENCODERS.build("sasrec", {"dim": 16}, n_items=60), "sasrec", encoder_dir)
    before = (run / "last" / "trainer_state.json").read_bytes()
    with pytest.raises(ArtefactMismatchError, match=rf"^{encoder_dir}: the item encoder folder now holds sha256 \w+, but {run} was trained with") as err:
        resume(run)
    assert "\n" not in str(err.value) and str(run / "last" / "item_encoder") in str(err.value)
    assert (run / "last" / "trainer_state.json").read_bytes() == before


# ---------------------------------------------------------------------- the real command
CLI_STEPS = 16


def llara(*args: object, **popen) -> subprocess.Popen:
    """``llara ARGS`` with one torch thread, output captured."""
    exe = Path(sys.executable).with_name("llara")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "llara_core.cli.main"]
    env = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([*cmd, *map(str, args), "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, **popen)


def saved_step(run: Path) -> int | None:
    try:
        return json.loads((run / "last" / "trainer_state.json").read_text())["global_step"]
    except (OSError, ValueError, KeyError):
        return None


def wait_for_checkpoint(p: subprocess.Popen, run: Path, at_least: int) -> int:
    deadline = time.monotonic() + 240
    while p.poll() is None and time.monotonic() < deadline:
        step = saved_step(run)
        if step is not None and step >= at_least:
            return step
        time.sleep(0.01)
    p.kill()
    raise AssertionError("no checkpoint before the run ended:\n" + p.communicate()[0][-3000:])


def records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def cli_config(llara_world, tmp_path_factory) -> Path:
    from tests.llara_world import world_config

    cfg = world_config(llara_world, max_steps=CLI_STEPS, checkpoint_every=2, batch_size=2, accelerator="cpu")
    path = tmp_path_factory.mktemp("cli") / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    return path


@pytest.mark.slow
def test_ddp_spawn_through_the_cli_and_a_sigterm_to_one_rank_stops_both(cli_config, tmp_path):
    psutil = pytest.importorskip("psutil")
    run = tmp_path / "spawn"
    p = llara("train", cli_config, "--devices", 2, "--strategy", "ddp_spawn", "--out", run)
    wait_for_checkpoint(p, run, 2)
    workers = sorted((c for c in psutil.Process(p.pid).children() if "spawn_main" in " ".join(c.cmdline())), key=lambda c: c.pid)
    assert len(workers) == 2
    workers[-1].send_signal(signal.SIGTERM)  # the rank that does not write: rank 0 must learn of it
    out, _ = p.communicate(timeout=240)
    assert p.returncode == 128 + signal.SIGTERM, out[-3000:]
    stopped = saved_step(run)
    assert stopped is not None and stopped < CLI_STEPS
    assert out.count(f"interrupted at step {stopped}; checkpoint saved in {run / 'last'}") == 1  # rank 0 reports
    assert out.count("SIGTERM received") == 1
    assert out.count("effective batch 4 (2 per device × 2 process(es) × 1 accumulation)") == 1
    assert json.loads((run / "run_info.json").read_text())["effective_batch"] == 4
    assert [r["step"] for r in records(run)] == list(range(1, stopped + 1))  # rank 0 alone logs


@pytest.mark.slow
def test_a_killed_ddp_run_validating_inside_training_resumes_under_one_process(cli_config, tmp_path):
    run = tmp_path / "ddp"
    p = llara("train", cli_config, "--devices", 2, "--strategy", "ddp", "-o", "training.val_every=2", "--out", run, start_new_session=True)
    wait_for_checkpoint(p, run, 4)
    os.killpg(p.pid, signal.SIGKILL)  # both ranks: the launcher's child is in the same group
    p.communicate(timeout=60)
    killed_at = saved_step(run)
    two_process = {r["step"] for r in records(run) if "val_hr@1" in r and r["step"] <= killed_at}
    assert two_process == set(range(2, killed_at + 1, 2))  # sharded validation ran inside training
    done = llara("train", "--resume", run, "--devices", 1)
    out, _ = done.communicate(timeout=300)
    assert done.returncode == 0, out[-3000:]
    assert f"resuming {run} from step {killed_at} of {CLI_STEPS}" in out
    assert "training.batch_size 4 per device (saved: 2 under 2) keeps the global batch of 4" in out
    assert saved_step(run) == CLI_STEPS
    log = records(run)
    assert [r["step"] for r in log] == list(range(1, CLI_STEPS + 1))
    assert [r["step"] for r in log if "val_hr@1" in r] == list(range(2, CLI_STEPS + 1, 2))  # one validation record per validation step
