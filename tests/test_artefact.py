"""A trained LLaRA as a self-contained, verified artefact: save/load round trip, plain PEFT
loads the adapters, every mismatch (files, backbone, catalogue, item encoder source) is a
one-line error naming it, older runs load with a warning, merged export for serving."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest
import torch

from llara_core.data import Dataset
from llara_core.interfaces import PromptMode, PromptSample
from llara_core.model.artefact import (
    ArtefactMismatchError,
    check_dataset,
    check_encoder_source,
    export_merged,
    from_pretrained,
    read_weights,
)
from llara_core.model.compose import build_llara
from llara_core.model.llara import LLaRA
from llara_core.slots import BACKBONES, ITEM_ENCODERS
from llara_core.sr.checkpoint import save_item_encoder
from llara_core.training.run import train
from tests.llara_world import world_config
from tests.test_backbones import save_tiny_model

SAMPLES = [PromptSample((1, 2, 3), (4, 5, 6, 7, 8, 9), 6), PromptSample((10, 11), (12, 13, 14, 15, 16, 17), 15)]


@pytest.fixture(scope="module")
def trained_run(llara_world, tmp_path_factory):
    """A 3-step run whose encoder lives in a private copy of the world's SASRec folder."""
    root = tmp_path_factory.mktemp("artefact")
    shutil.copytree(llara_world["sasrec"], root / "sasrec")
    world = {**llara_world, "sasrec": root / "sasrec"}
    cfg = world_config(world, max_steps=3)
    train(cfg, root / "run")
    return root, world


def _scores(model):
    prompts = model.build_prompts(SAMPLES, PromptMode.HYBRID)
    return model.score_candidates(prompts, [[model.prompt_builder.title(c) for c in s.candidates] for s in SAMPLES])


def test_a_run_checkpoint_is_an_artefact_that_reloads_exactly(trained_run, tmp_path):
    root, _ = trained_run
    model = LLaRA.from_pretrained(root / "run" / "best")
    manifest = json.loads((root / "run" / "best" / "llara.json").read_text())
    assert manifest["components"]["item_encoder"]["name"] == "sasrec" and manifest["components"]["backbone"]["distribution"] == "llara"
    assert {"adapter/adapter_config.json", "adapter/adapter_model.safetensors", "projector.safetensors", "item_encoder/model.safetensors", "titles.json"} <= set(manifest["files"])
    model.save_pretrained(tmp_path / "copy")
    again = LLaRA.from_pretrained(tmp_path / "copy")
    for a, b in zip(_scores(model), _scores(again)):
        assert (a == b).all()


def test_plain_peft_loads_the_adapters(trained_run):
    from peft import PeftModel

    root, _ = trained_run
    model = LLaRA.from_pretrained(root / "run" / "best")
    backbone = BACKBONES.build(model.config.backbone.name, model.config.backbone.params).load()
    peft_model = PeftModel.from_pretrained(backbone.model, str(root / "run" / "best" / "adapter")).eval()
    ids = model.tokenizer("This user has watched", return_tensors="pt").input_ids
    with torch.no_grad():
        ours = model.llm(input_ids=ids).logits
        plain = peft_model(input_ids=ids).logits
    # the plain backbone lacks llara's placeholder row (added at the end of the vocabulary)
    assert torch.allclose(ours[..., : plain.shape[-1]], plain, atol=1e-5)
    assert any(p.abs().sum() > 0 for n, p in peft_model.named_parameters() if "lora_B" in n)  # trained, not fresh


def test_a_changed_file_is_named(trained_run, tmp_path):
    root, _ = trained_run
    shutil.copytree(root / "run" / "best", tmp_path / "m")
    with open(tmp_path / "m" / "projector.safetensors", "r+b") as fh:
        fh.seek(-1, 2)
        last = fh.read(1)
        fh.seek(-1, 2)
        fh.write(bytes([last[0] ^ 1]))
    with pytest.raises(ArtefactMismatchError, match=r"projector\.safetensors: sha256 .* differs"):
        from_pretrained(tmp_path / "m")


def test_another_backbone_or_catalogue_is_refused(trained_run, tmp_path, tiny_dataset_dir):
    root, _ = trained_run
    shutil.copytree(root / "run" / "best", tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "llara.json").read_text())
    manifest["config"]["backbone"]["params"]["seed"] = 5  # other random weights
    (tmp_path / "m" / "llara.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtefactMismatchError, match=r"^backbone 'tiny-random-llama': its weights changed \(state_sha256 now \w{12}, trained with \w{12}\)"):
        from_pretrained(tmp_path / "m")
    model = from_pretrained(root / "run" / "best")
    with pytest.raises(ArtefactMismatchError, match="catalogue .* is not the one this model was trained on"):
        check_dataset(model, Dataset.load(tiny_dataset_dir))


def test_retraining_the_encoder_folder_is_detected_by_its_hash(trained_run, llara_cli):
    root, world = trained_run
    model = from_pretrained(root / "run" / "best")
    check_encoder_source(model)  # unchanged: fine
    torch.manual_seed(99)
    ds = Dataset.load(world["data"])
    save_item_encoder(ITEM_ENCODERS.build("sasrec", {"dim": 16}, n_items=ds.n_items), "sasrec", world["sasrec"], data_hash=ds.content_hash, dataset=ds.name)
    with pytest.raises(ArtefactMismatchError, match="item encoder: .* now holds sha256 .* trained with sha256"):
        check_encoder_source(model)
    out = llara_cli("evaluate", str(root / "run"), "--mode", "score", "--limit", "2")
    assert out.returncode != 0 and "item encoder" in out.stderr and "sha256" in out.stderr and "Traceback" not in out.stderr
    ok = llara_cli("evaluate", str(root / "run"), "--mode", "score", "--limit", "2", "--allow-encoder-mismatch", "--out", str(root / "e.json"))
    assert ok.returncode == 0, ok.stderr


def test_older_run_checkpoints_load_with_a_warning(llara_world, tmp_path):
    cfg = world_config(llara_world, max_steps=1)
    model = build_llara(cfg)
    from llara_core.model.compose import write_run_config

    write_run_config(cfg, tmp_path / "old")
    model.save_trainable(tmp_path / "old" / "best")  # the format before artefacts
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        old = LLaRA.from_pretrained(tmp_path / "old" / "best")
    assert any("saved before llara's model artefacts" in str(w.message) for w in seen)
    for a, b in zip(_scores(model.eval()), _scores(old)):
        assert (a == b).all()


def test_merged_export_serves_the_same_scores(trained_run, tmp_path):
    root, _ = trained_run
    model = from_pretrained(root / "run" / "best")
    before = _scores(model)
    export_merged(from_pretrained(root / "run" / "best"), tmp_path / "merged")
    merged = LLaRA.from_pretrained(tmp_path / "merged")
    assert merged.tuning == "freeze" and not (tmp_path / "merged" / "adapter").exists()
    for a, b in zip(before, _scores(merged)):
        assert abs(a - b).max() < 1e-4


def test_adapters_reload_when_peft_sees_a_resized_vocabulary(trained_run, tmp_path):
    """SmolLM2 gains the placeholder token; PEFT then finds the base model's config.json with a smaller
    vocabulary and would save whole embedding matrices with the adapters, which did not reload."""
    root, _ = trained_run
    model = LLaRA.from_pretrained(root / "run" / "best")
    base = tmp_path / "base"
    config = model.llm.get_base_model().config
    config.__class__(**{**config.to_dict(), "vocab_size": config.vocab_size - 1}).save_pretrained(base)
    model.llm.peft_config["default"].base_model_name_or_path = str(base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PEFT's "embedding layer has been resized" when asked for auto
        model.save_pretrained(tmp_path / "copy")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "copy" / "adapter" / "adapter_model.safetensors"), "pt") as fh:
        assert fh.keys() and not [k for k in fh.keys() if "embed_tokens" in k or "lm_head" in k]
    before = _scores(model)
    with torch.no_grad():
        for p in model.projector.parameters():
            p.add_(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read_weights(model, tmp_path / "copy")  # the model still sees the resized vocabulary
    for a, b in zip(before, _scores(model)):
        assert (a == b).all()


def test_a_folder_backbone_whose_weights_changed_is_refused_naming_the_file(llara_world, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = save_tiny_model(tmp_path / "backbone")
    cfg = world_config(llara_world, backbone="hf", backbone_params={"model": str(folder), "local_files_only": True})
    model = build_llara(cfg).eval()
    model.save_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "llara.json").read_text())["backbone"]["weights"][0]["file"] == "model.safetensors"
    for a, b in zip(_scores(model), _scores(from_pretrained(tmp_path / "m"))):  # unchanged: loads, same scores
        assert (a == b).all()
    weights = load_file(folder / "model.safetensors")
    name = sorted(weights)[0]
    save_file({**weights, name: weights[name] + 1e-3}, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ArtefactMismatchError, match=r"^backbone '.*backbone': its file model\.safetensors changed \(now sha256 \w{12}, trained with sha256 \w{12}\); load it with the backbone it was trained with$"):
        from_pretrained(tmp_path / "m")
