"""Presets of the built-in backbones, in a module without torch (entry points point here)."""

from __future__ import annotations

from llara_core.registry import Preset

LLAMA = Preset("tiny-random", {"family": "llama"}, "Tiny random Llama (hidden 64, 2 layers) with a local BPE tokenizer")
GPT2 = Preset("tiny-random", {"family": "gpt2"}, "Tiny random GPT-2 (hidden 64, 2 layers) with a local BPE tokenizer")
