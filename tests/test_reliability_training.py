"""Training that loses nothing: signals, kills and resume; runs never overwritten; the up-front
dataset check; non-finite losses, out of memory and prompts over the backbone's context.

The subprocess tests run the real ``llara train`` command on the tiny world, one torch thread
each, and compare final weights bit for bit with an uninterrupted run (docs/reliability.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
import yaml
from rich.console import Console
from safetensors.torch import load_file

from llara_core.errors import DataError, LlaraError, OutOfMemoryError
from llara_core.interfaces import PromptMode, PromptSample
from llara_core.model.compose import build_llara
from llara_core.model.llara import ContextWarning
from llara_core.training.run import resume, train
from tests.llara_world import TINY_PARAMS, world_config

STEPS = 60
WEIGHT_FILES = ("adapter/adapter_model.safetensors", "projector.safetensors")


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=300, no_color=True), out


def _cli(*args: str, **popen) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("llara")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "llara_core.cli.main"]
    env = {**os.environ, "COLUMNS": "300", "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([*cmd, *args, "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, **popen)


def _run(*args: str) -> tuple[int, str]:
    p = _cli(*args)
    out, _ = p.communicate(timeout=300)
    return p.returncode, out


def _step(run: Path) -> int | None:
    try:
        return json.loads((run / "last" / "trainer_state.json").read_text())["global_step"]
    except (OSError, ValueError, KeyError):
        return None


def _signal_after_checkpoint(config: Path, run: Path, sig: int, at_least: int = 4) -> tuple[int, str]:
    """Start ``llara train``, send ``sig`` once ``last/`` holds step >= ``at_least``."""
    p = _cli("train", str(config), "--out", str(run))
    deadline = time.monotonic() + 240
    while p.poll() is None and time.monotonic() < deadline:
        step = _step(run)
        if step is not None and step >= at_least:
            break
        time.sleep(0.01)
    assert p.poll() is None, "the run ended before it could be interrupted:\n" + p.communicate()[0][-2000:]
    p.send_signal(sig)
    out, _ = p.communicate(timeout=240)
    return p.returncode, out


def _weights(run: Path) -> dict[str, torch.Tensor]:
    out = {}
    for f in WEIGHT_FILES:
        out.update({f"{f}:{k}": v for k, v in load_file(str(run / "last" / f)).items()})
    return out


def _assert_bit_identical(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert sorted(wa) == sorted(wb) and len(wa) > 4
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"{len(different)} of {len(wa)} tensors differ: {different[:3]}"


def _tree_digest(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def config_file(llara_world, tmp_path_factory) -> Path:
    cfg = world_config(llara_world, max_steps=STEPS, checkpoint_every=2, batch_size=4)
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    return path


@pytest.fixture(scope="module")
def straight(config_file, tmp_path_factory) -> Path:
    """The uninterrupted run every interrupted one must reproduce exactly."""
    run = tmp_path_factory.mktemp("straight") / "run"
    code, out = _run("train", str(config_file), "--out", str(run))
    assert code == 0, out[-3000:]
    assert _step(run) == STEPS
    return run


def test_sigkill_then_resume_gives_bit_identical_final_weights(config_file, straight, tmp_path):
    run = tmp_path / "killed"
    code, _ = _signal_after_checkpoint(config_file, run, signal.SIGKILL)
    assert code == -signal.SIGKILL
    killed_at = _step(run)
    assert killed_at is not None and 4 <= killed_at < STEPS
    code, out = _run("train", "--resume", str(run))
    assert code == 0, out[-3000:]
    assert f"resuming {run} from step {killed_at} of {STEPS}" in out
    _assert_bit_identical(straight, run)
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == list(range(1, STEPS + 1))


def test_sigint_saves_a_checkpoint_prints_the_resume_command_and_resume_is_exact(config_file, straight, tmp_path):
    run = tmp_path / "ctrl-c"
    code, out = _signal_after_checkpoint(config_file, run, signal.SIGINT)
    assert code == 130, out[-3000:]
    stopped = _step(run)
    assert stopped is not None and stopped < STEPS
    assert f"interrupted at step {stopped}; checkpoint saved in {run / 'last'}; resume with: llara train --resume {run}" in out
    assert "Traceback" not in out and not (run / "train_summary.json").exists()
    code, out = _run("train", "--resume", str(run))
    assert code == 0, out[-3000:]
    assert f"resuming {run} from step {stopped} of {STEPS} (checkpoint {run / 'last'})" in out
    _assert_bit_identical(straight, run)

    # a finished run is left alone: nothing rewritten, exit 0
    before = _tree_digest(run)
    code, out = _run("train", "--resume", str(run))
    assert code == 0
    assert f"{run}: already finished at step {STEPS}; nothing to do" in out
    assert _tree_digest(run) == before


def test_sigterm_stops_at_the_next_step_boundary_with_a_checkpoint(llara_world, tmp_path, monkeypatch):
    from llara_core.training.trainer import LLaRARecipe

    original = LLaRARecipe.make_batch

    def make_batch(self, rows, step, total_steps):
        if step == 2:  # while step 3 is being computed
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, rows, step, total_steps)

    monkeypatch.setattr(LLaRARecipe, "make_batch", make_batch)
    console, out = _console()
    summary = train(world_config(llara_world, max_steps=8), tmp_path / "run", console)
    assert summary["interrupted"] and summary["signal"] == "SIGTERM" and summary["global_step"] == 3
    assert _step(tmp_path / "run") == 3
    text = out.getvalue()
    assert "SIGTERM received: stopping after the current step" in text
    assert f"resume with: llara train --resume {tmp_path / 'run'}" in text
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers are restored


def test_fit_refuses_a_folder_that_holds_a_run_and_resume_refuses_nothing_twice(llara_world, tmp_path):
    cfg = world_config(llara_world, max_steps=2)
    model = build_llara(cfg)
    model.fit(tmp_path / "run")
    before = _tree_digest(tmp_path / "run")
    with pytest.raises(LlaraError, match=r"already holds a run \(.*last exists\); resume it with `llara train --resume "):
        model.fit(tmp_path / "run")
    console, out = _console()
    summary = resume(tmp_path / "run", console)
    assert summary["already_finished"] and "already finished at step 2; nothing to do" in out.getvalue()
    assert _tree_digest(tmp_path / "run") == before


@pytest.mark.parametrize("bad", ["nan", "inf"])
def test_a_non_finite_loss_stops_names_the_step_and_keeps_the_last_good_checkpoint(llara_world, tmp_path, monkeypatch, bad):
    from llara_core.training.trainer import LLaRARecipe

    calls = {"n": 0}
    original = LLaRARecipe.loss

    def loss(self, fmodel, batch):
        calls["n"] += 1
        value = original(self, fmodel, batch)
        return value + float(bad) if calls["n"] == 3 else value

    monkeypatch.setattr(LLaRARecipe, "loss", loss)
    with pytest.raises(LlaraError, match=rf"the training loss became {bad} at step 3; lower the learning rate") as err:
        train(world_config(llara_world, max_steps=6, checkpoint_every=2), tmp_path / "run", _console()[0])
    assert "\n" not in str(err.value)
    assert _step(tmp_path / "run") == 2  # the checkpoint before the bad step
    assert not (tmp_path / "run" / "train_summary.json").exists()


def test_out_of_memory_says_what_to_lower(llara_world, tmp_path, monkeypatch):
    from llara_core.training.trainer import LLaRARecipe

    def loss(self, fmodel, batch):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(LLaRARecipe, "loss", loss)
    with pytest.raises(OutOfMemoryError, match=r"out of memory at step 1 .*lower training.batch_size \(now 4; raise training.grad_accum"):
        train(world_config(llara_world, max_steps=4), tmp_path / "run", _console()[0])


def _short_context(llara_world, backbone: str, positions: int, **training):
    params = {**TINY_PARAMS, "max_positions": positions}
    return world_config(llara_world, backbone=backbone, backbone_params=params, **training)


@pytest.mark.parametrize("backbone", ["tiny-random-llama", "tiny-random-gpt2"])
def test_prompts_over_the_context_drop_oldest_history_with_a_counted_warning(llara_world, tmp_path, backbone):
    cfg = _short_context(llara_world, backbone, 220, max_steps=2)
    model = build_llara(cfg).eval()
    long, short = PromptSample(tuple(range(10)), (11, 12, 13, 14, 15, 16), 12), PromptSample((1, 2), (11, 12, 13, 14, 15, 16), 12)
    with pytest.warns(ContextWarning, match=r"dropped the oldest \d+ history item\(s\) of 1 of 2 prompt\(s\) to fit the backbone's context of 220 tokens \(candidates and answers are kept\)"):
        prompts = model.build_prompts([long, short], PromptMode.HYBRID)
    kept = len(prompts[0].item_ids) - 6
    assert 0 < kept < 10 and prompts[0].item_ids[:kept] == tuple(range(10 - kept, 10))  # the newest items stay
    assert prompts[0].item_ids[kept:] == (11, 12, 13, 14, 15, 16) and prompts[1].item_ids == (1, 2, 11, 12, 13, 14, 15, 16)
    batch = model.encode(prompts, with_answers=True)
    assert batch.input_ids.shape[1] <= 220 and torch.isfinite(model(batch))
    titles = [[model.prompt_builder.title(c) for c in range(11, 17)]] * 2
    assert all(len(s) == 6 for s in model.score_candidates(prompts, titles))
    assert len(model.generate(prompts, max_new_tokens=64)) == 2  # stops at the context, never past it
    # training: the preflight counts the shortened prompts once, the batches say nothing more
    console, out = _console()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ContextWarning)
        summary = train(cfg, tmp_path / "run", console)
    assert summary["global_step"] == 2
    assert "prompts exceed the backbone's context of 220 tokens; their oldest history items are dropped" in out.getvalue()


def test_a_prompt_that_cannot_fit_even_without_history_stops_before_training(llara_world, tmp_path):
    cfg = _short_context(llara_world, "tiny-random-gpt2", 120, max_steps=2)
    with pytest.raises(DataError, match=r"problem\(s\) found before training \(nothing was trained\):\n  train sample 0: its prompt takes \d+ tokens even with no history") as err:
        train(cfg, tmp_path / "run", _console()[0])
    assert "and " in str(err.value).splitlines()[-1]  # one report: the rest counted, not raised one by one
    assert not (tmp_path / "run" / "last").exists()


def test_preflight_names_every_title_holding_the_prompt_builders_placeholder(llara_world, tmp_path):
    from llara_core.data import Dataset
    from llara_core.slots import PROMPT_BUILDERS
    from llara_plugins.prompt_builders.llara_templates import LLaRAPromptBuilder

    class AnglePlaceholder(LLaRAPromptBuilder):
        """LLaRA's templates with the placeholder <emb>."""

        placeholder = "<emb>"

    PROMPT_BUILDERS.register("angle-placeholder", AnglePlaceholder)
    try:
        ds = Dataset.load(llara_world["data"])
        ds.titles[5] = "Midnight <emb> Lantern"
        ds.titles[9] = "The <emb>"
        ds.save(tmp_path / "data")
        cfg = world_config(llara_world, max_steps=2)
        cfg = cfg.model_copy(update={"prompt_builder": cfg.prompt_builder.model_copy(update={"name": "angle-placeholder"}),
                                     "data": cfg.data.model_copy(update={"path": tmp_path / "data"})})
        with pytest.raises(DataError) as err:
            train(cfg, tmp_path / "run", _console()[0])
    finally:
        PROMPT_BUILDERS.unregister("angle-placeholder")
    text = str(err.value)
    items = tmp_path / "data" / "items.jsonl"
    assert "2 problem(s) found before training" in text
    assert f"{items}: item 5: title 'Midnight <emb> Lantern' contains the placeholder text '<emb>'" in text
    assert f"{items}: item 9: title 'The <emb>' contains the placeholder text '<emb>'" in text
    assert not (tmp_path / "run" / "last").exists()


def test_same_seed_same_metrics_whatever_the_data_loader_workers(llara_world, tmp_path):
    """Training with 0 or 2 data-loader workers gives the same validation metrics, final weights
    and evaluation results (the evaluation is run twice, with two batch sizes)."""
    from llara_core.data import Dataset
    from llara_core.evaluation.engine import evaluate
    from llara_core.model.compose import load_run

    results = []
    for workers in (0, 2):
        cfg = world_config(llara_world, max_steps=4, val_every=2, num_workers=workers)
        train(cfg, tmp_path / f"w{workers}", _console()[0])
        records = [json.loads(line) for line in (tmp_path / f"w{workers}" / "metrics.jsonl").read_text().splitlines()]
        model = load_run(tmp_path / f"w{workers}", "last")
        ds = Dataset.load(cfg.data.path)
        evals = [evaluate(model, ds, "test", seeds=[0], mode="both", n_candidates=6, batch_size=b, n_boot=50)
                 for b in ((1, 4) if workers == 0 else (4,))]
        results.append(([{k: v for k, v in r.items() if k.startswith(("val_", "loss"))} for r in records], evals))
    (val0, evals0), (val2, evals2) = results
    assert val0 == val2 and any("val_hr@1" in r for r in val0)
    _assert_bit_identical(tmp_path / "w0", tmp_path / "w2")
    for e in (evals0[1], evals2[0]):
        assert e["per_sample"] == evals0[0]["per_sample"]
        assert e["scoring"]["summary"] == evals0[0]["scoring"]["summary"]
