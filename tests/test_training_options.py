"""Options of the lean training step: precision auto, gradient checkpointing auto, length-grouped
batches (deterministic, resumable, sharded), the chat system prompt."""

from __future__ import annotations

import json
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from llara_core.model.batching import PromptTokenizer
from llara_core.training import memory_estimate
from llara_core.training.data import EpochSampler, length_grouped
from llara_core.training.precision import resolve_precision, warn_emulated_bf16
from tests.llara_world import world_config

AVX2 = frozenset({"avx", "avx2", "fma"})
GENOA = AVX2 | {"avx512f", "avx512_bf16"}
SAPPHIRE = AVX2 | {"avx512f", "amx_bf16", "amx_tile"}


@pytest.mark.parametrize(("flags", "expected"), [(AVX2, "32-true"), (GENOA, "bf16-mixed"), (SAPPHIRE, "bf16-mixed")])
def test_precision_auto_picks_bf16_only_on_native_cpus(flags, expected):
    precision, reason = resolve_precision("auto", "cpu", flags)
    assert precision == expected and reason.startswith("auto")


def test_explicit_bf16_on_an_emulating_cpu_warns_once():
    warn_emulated_bf16.cache_clear()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert resolve_precision("bf16-mixed", "cpu", AVX2)[0] == "bf16-mixed"
        resolve_precision("bf16-mixed", "cpu", AVX2)
        assert resolve_precision("32-true", "cpu", AVX2)[0] == "32-true"
    assert len(seen) == 1 and "emulated" in str(seen[0].message)


def test_length_grouping_is_a_deterministic_permutation_of_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(50, 400, size=1003).tolist()
    order = rng.permutation(1003).tolist()
    a = length_grouped(order, lengths, group=8, window=16, rng=np.random.default_rng(1))
    b = length_grouped(order, lengths, group=8, window=16, rng=np.random.default_rng(1))
    assert a == b and sorted(a) == list(range(1003))
    spread = lambda seq: np.mean([np.ptp([lengths[i] for i in seq[j : j + 8]]) for j in range(0, 1000, 8)])  # noqa: E731
    assert spread(a) < 0.2 * spread(order)
    # 1003 = 7 windows of 128 + 107: the last window's 3 leftover (longest) samples come last
    assert a[-3:] == sorted(order[896:], key=lambda i: lengths[i])[-3:]


def test_grouped_sampler_resumes_mid_epoch_and_shards_similar_lengths():
    lengths = [int(x) for x in np.random.default_rng(2).integers(10, 500, size=203)]
    kw = dict(lengths=lambda epoch: lengths, batch_size=4, window=8)
    full = list(EpochSampler(203, seed=3, epoch=1, **kw))
    assert list(EpochSampler(203, seed=3, epoch=1, start=40, **kw)) == full[40:]
    assert full != list(EpochSampler(203, seed=3, epoch=2, **kw))
    r0 = list(EpochSampler(203, seed=3, epoch=1, rank=0, world_size=2, **kw))
    r1 = list(EpochSampler(203, seed=3, epoch=1, rank=1, world_size=2, **kw))
    assert not set(r0) & set(r1) and len(r0) == len(r1) == 101
    for k in range(0, 96, 4):  # the k-th batches of the two ranks come from one global group of similar length
        both = [lengths[i] for i in r0[k : k + 4] + r1[k : k + 4]]
        assert np.ptp(both) < 0.5 * np.ptp(lengths)


SMOL_LIKE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named Smol, trained by someone<|im_end|>\\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@pytest.fixture
def chat_tokenizer():
    from llara_plugins.backbones.tiny_random import build_tokenizer

    tok = build_tokenizer(512, "gpt2")
    tok.chat_template = SMOL_LIKE
    return tok


def test_system_prompt_default_spends_no_tokens_on_the_templates_own(chat_tokenizer):
    default = PromptTokenizer(chat_tokenizer, 0, True, system_prompt="")
    template_own = PromptTokenizer(chat_tokenizer, 0, True, system_prompt=None)
    custom = PromptTokenizer(chat_tokenizer, 0, True, system_prompt="Recommend well.")
    assert "helpful AI assistant" not in default.prompt_text("Hi") and "helpful AI assistant" in template_own.prompt_text("Hi")
    assert len(default.prompt_ids("Hi")) < len(template_own.prompt_ids("Hi")) - 10
    assert "Recommend well." in custom.prompt_text("Hi") and "helpful" not in custom.prompt_text("Hi")


def test_checkpointing_auto_follows_the_memory_estimate(llara_world, tmp_path, monkeypatch):
    from llara_core.model.compose import build_llara
    from llara_core.training.run import train

    cfg = world_config(llara_world, max_steps=1)
    cfg.backbone.params["gradient_checkpointing"] = "auto"
    train(cfg, tmp_path / "roomy")
    assert "gradient checkpointing off (auto)" in " ".join(json.loads((tmp_path / "roomy" / "run_info.json").read_text())["notes"])
    monkeypatch.setattr(memory_estimate, "available_bytes", lambda device: 1024)
    model = build_llara(cfg)
    train(cfg, tmp_path / "tight", model=model)
    assert "gradient checkpointing on (auto)" in " ".join(json.loads((tmp_path / "tight" / "run_info.json").read_text())["notes"])
    assert model.llm.get_base_model().is_gradient_checkpointing


def test_activation_estimate_matches_the_smollm2_calibration():
    smol = SimpleNamespace(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, vocab_size=49152)
    gib = memory_estimate.activation_bytes(smol, 2070, 8 * 6) / 2**30
    assert 3.5 < gib < 5.5  # measured: +4.3 GB without checkpointing at batch 8


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
@pytest.mark.parametrize("objective", ["lm", "lm+listwise"])
def test_objectives_train_through_the_trainer(llara_world, tmp_path, precision, objective):
    from llara_core.training.run import train

    cfg = world_config(llara_world, max_steps=3, objective=objective, precision=precision)
    summary = train(cfg, tmp_path / "run")
    records = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert summary["global_step"] == 3 and all(np.isfinite(r["loss"]) for r in records if "loss" in r)
    assert json.loads((tmp_path / "run" / "run_info.json").read_text())["objective"] == objective
