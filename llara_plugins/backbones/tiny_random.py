"""Tiny causal LMs with random weights and a tokenizer trained on the spot: no files, no network.

For tests and the offline quickstart. Two families with different module layouts: ``llama``
(rotary positions, q/k/v/o + gate/up/down projections) and ``gpt2`` (learned absolute
positions, fused c_attn/c_proj/c_fc Conv1D layers).
"""

from __future__ import annotations

import hashlib

import torch

from llara_core.errors import LlaraError
from llara_core.interfaces import Backbone, BackboneLoader
from llara_core.model.backbone_setup import finish_backbone, state_fingerprint
from llara_plugins.backbones.params import TinyRandomParams

#: Text the byte-level BPE tokenizer is trained on: instruction wording of all three domains
#: plus common English words. Any text still encodes (byte fallback), in more tokens.
CORPUS = """
This user has watched played listened to in the previous. Please predict the next movie game
music artist this user will watch play listen to. Choose the answer from the following movie
titles game titles artist names candidates. Given the following recommend one for this user to
watch next. The title name you recommend is: The visit listening history of this user is:
Recommend a next from the following title set. The recommendation should contain one title
name only. Recommendation: The answer is Answer: The candidates are Choose only one from the.
the of and a an in on at to for with from by as is was are be it this that which who what
new old red blue green black white golden silver iron copper midnight morning summer winter
night day city river ocean harbor garden forest mountain island desert valley road house
house story love war star dark light last first lost secret little big great king queen man
woman boy girl child family friend hero ghost dragon space time world life death dream song
""".split()


def build_tokenizer(vocab_size: int, family: str, extra_text: str = ""):
    """A byte-level BPE fast tokenizer trained on CORPUS plus ``extra_text`` (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<pad>", "<s>", "</s>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    words = [" " + w for w in CORPUS] + CORPUS
    extra = extra_text.split()
    words += [" " + w for w in extra] + extra
    tok.train_from_iterator([" ".join(words[i : i + 16]) for i in range(0, len(words), 16)] * 4, trainer)
    if family == "llama":  # Llama tokenizers prepend BOS
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", tok.token_to_id("<s>"))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>")


class TinyRandomBackbone(BackboneLoader):
    """A randomly initialised tiny causal LM (seeded) with a locally trained BPE tokenizer."""

    Params = TinyRandomParams
    expensive_to_check = False  # a second or so, offline: the conformance kit checks it by default

    def load(self) -> Backbone:
        from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

        p = self.params
        missing = [str(f) for f in p.tokenizer_corpus if not f.is_file()]
        if missing:
            raise LlaraError(f"backbone.params.tokenizer_corpus: file(s) not found: {', '.join(missing)}")
        extra = "\n".join(f.read_text(encoding="utf-8") for f in p.tokenizer_corpus)
        tokenizer = build_tokenizer(p.vocab_size, p.family, extra)
        common = dict(
            vocab_size=len(tokenizer),
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        if p.family == "llama":
            config = LlamaConfig(
                hidden_size=p.hidden_size,
                intermediate_size=p.intermediate_size,
                num_hidden_layers=p.num_layers,
                num_attention_heads=p.num_heads,
                num_key_value_heads=max(1, p.num_heads // 2),
                max_position_embeddings=p.max_positions,
                tie_word_embeddings=True,
                **common,
            )
            cls = LlamaForCausalLM
        else:
            config = GPT2Config(
                n_embd=p.hidden_size,
                n_layer=p.num_layers,
                n_head=p.num_heads,
                n_inner=p.intermediate_size,
                n_positions=p.max_positions,
                **common,
            )
            cls = GPT2LMHeadModel
        config._attn_implementation = p.attn_implementation
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(p.seed)
            model = cls(config)
        identity = {
            "model": f"tiny-random-{p.family}",
            "seed": p.seed,
            "state_sha256": state_fingerprint(model),
            "vocab": hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode()).hexdigest(),
        }
        return finish_backbone(model, tokenizer, p, identity)
