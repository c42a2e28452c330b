"""The artefact on the command line: `llara export` (plain, merged, both spellings of --merged)
loads back and scores as the run does; `llara evaluate --data` with another catalogue is one
line; a quickstart-style run's best/ is an artefact; `llara sr train --min-history` keeps the
config's default; the model package imports neither training nor evaluation."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml

from llara_core.cli.main import build_parser, main
from llara_core.data.synthetic import make_synthetic
from llara_core.interfaces import PromptMode, PromptSample
from llara_core.model.llara import LLaRA
from llara_core.training.run import train
from tests.llara_world import TINY_PARAMS, world_config

SAMPLES = [PromptSample((1, 2, 3), (4, 5, 6, 7, 8, 9), 6), PromptSample((10, 11), (12, 13, 14, 15, 16, 17), 15)]


@pytest.fixture(scope="module")
def lora_run(llara_world, tmp_path_factory):
    """A 2-step LoRA run on the tiny world (its encoder in a private copy of the world's SASRec)."""
    root = tmp_path_factory.mktemp("artefact-cli")
    shutil.copytree(llara_world["sasrec"], root / "sasrec")
    train(world_config({**llara_world, "sasrec": root / "sasrec"}, max_steps=2), root / "run")
    return root / "run"


def _scores(model: LLaRA) -> list[np.ndarray]:
    prompts = model.build_prompts(SAMPLES, PromptMode.HYBRID)
    return model.score_candidates(prompts, [[model.prompt_builder.title(c) for c in s.candidates] for s in SAMPLES])


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err and err.strip().count("\n") == 0, err
    assert err.startswith("error: "), err
    return err.strip()


def test_export_writes_an_artefact_that_scores_as_the_run(lora_run, tmp_path, capsys):
    assert main(["export", str(lora_run), "--out", str(tmp_path / "plain")]) == 0
    assert "LLaRA.from_pretrained" in capsys.readouterr().out
    exported = LLaRA.from_pretrained(tmp_path / "plain")
    assert exported.tuning == "lora" and (tmp_path / "plain" / "adapter" / "adapter_model.safetensors").is_file()
    for a, b in zip(_scores(LLaRA.from_pretrained(lora_run / "best")), _scores(exported)):
        assert (a == b).all()
    assert main(["export", str(lora_run), "--out", str(tmp_path / "plain")]) == 2  # never over an artefact
    assert "exists and is not empty" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("spelling", ["--merged OUT", "--merged --out OUT"])
def test_merged_export_serves_scores_close_to_the_run(lora_run, tmp_path, spelling):
    out = tmp_path / "merged"
    argv = ["export", str(lora_run), *spelling.replace("OUT", str(out)).split()]
    assert main(argv) == 0
    merged = LLaRA.from_pretrained(out)
    manifest = json.loads((out / "llara.json").read_text())
    assert merged.tuning == "freeze" and not (out / "adapter").exists() and manifest["backbone"]["merged_into"] == "backbone"
    for a, b in zip(_scores(LLaRA.from_pretrained(lora_run / "best")), _scores(merged)):
        assert np.abs(a - b).max() < 1e-4


def test_merged_export_refuses_two_output_folders(lora_run, tmp_path, capsys):
    argv = ["export", str(lora_run), "--merged", str(tmp_path / "a"), "--out", str(tmp_path / "b")]
    assert main(argv) == 2
    assert "give the new folder once" in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_evaluate_refuses_a_dataset_with_another_catalogue(lora_run, llara_world, tmp_path, capsys):
    trained = json.loads((llara_world["data"] / "items.jsonl").read_text().splitlines()[0])
    other = make_synthetic(seed=2, n_items=60, n_train_users=40, n_val_users=12, n_test_users=12)
    assert other.n_items == 60 and other.titles[trained["id"]] != trained["title"]  # same size, other titles
    other.save(tmp_path / "other")
    assert main(["evaluate", str(lora_run), "--data", str(tmp_path / "other"), "--mode", "score", "--limit", "2"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"dataset {tmp_path / 'other'}: its catalogue (60 items, hash" in line
    assert "is not the one this model was trained on (60 items" in line
    assert not (lora_run / "eval").exists()


def test_a_quickstart_style_run_best_is_an_artefact(llara_world, tmp_path):
    """The quickstart's config (full tuning, template prompts, curriculum, validation on HR@1)
    at toy size through `llara train`: best/ loads and reproduces the recorded val HR@1."""
    from llara_core.data import Dataset
    from llara_core.evaluation.candidate_scoring import score_split
    from llara_core.quickstart import QuickstartConfig, variant_config

    titles = tmp_path / "titles.txt"
    dataset = Dataset.load(llara_world["data"])
    titles.write_text("\n".join(dataset.titles) + "\n")
    q = QuickstartConfig(steps=2, batch_size=4, val_every=2, backbone_params={**TINY_PARAMS, "vocab_size": 512})
    raw = variant_config(q, "curriculum", llara_world["data"], llara_world["sasrec"], titles, tmp_path / "run")
    (tmp_path / "curriculum.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main(["train", str(tmp_path / "curriculum.yaml")]) == 0
    model = LLaRA.from_pretrained(tmp_path / "run" / "best")
    assert model.tuning == "full" and (tmp_path / "run" / "best" / "llm.safetensors").is_file()
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    recorded = summary["best_metrics"]["val_hr@1"]
    scored = score_split(model, dataset, "val", 20, 0, model.default_mode(), None, model.config.scoring_length_normalise())
    assert float(scored.per_sample["hr@1"].mean()) == pytest.approx(recorded, abs=1e-9)


@pytest.mark.parametrize(("flag", "expected"), [([], 1), (["--min-history", "0"], 0), (["--min-history", "3"], 3)])
def test_sr_train_min_history_defaults_to_the_config(flag, expected, tmp_path):
    from llara_core.cli.sr_cmd import train_config
    from llara_core.sr.trainer import SRTrainConfig

    args = build_parser().parse_args(["sr", "train", "--data", str(tmp_path), "--model", "sasrec", "--out", str(tmp_path / "m"), *flag])
    assert train_config(args).min_history == expected
    assert SRTrainConfig(model="sasrec").min_history == 1  # the default the CLI now leaves in place


def test_importing_the_model_package_imports_neither_training_nor_evaluation():
    code = (
        "import pkgutil, sys, importlib, llara_core.model as m\n"
        "for info in pkgutil.iter_modules(m.__path__): importlib.import_module(f'llara_core.model.{info.name}')\n"
        "bad = sorted(k for k in sys.modules if k.startswith(('llara_core.training', 'llara_core.evaluation')))\n"
        "print(len(list(pkgutil.iter_modules(m.__path__))), bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    count, bad = out.stdout.split(" ", 1)
    assert int(count) >= 10 and bad.strip() == "[]", out.stdout
