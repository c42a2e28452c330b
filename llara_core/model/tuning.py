"""Tuning modes of the backbone: LoRA (PEFT), freeze, full."""

from __future__ import annotations

from typing import Any

from torch import nn

from llara_core.config.schema import LoraConfig
from llara_core.errors import LlaraError

#: Known module-name families: the attention and MLP projections LLaRA adapts.
LORA_TARGET_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"),  # Llama, Qwen, Mistral
    ("c_attn", "c_proj", "c_fc"),  # GPT-2
    ("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"),  # GPT-NeoX, Falcon
    ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"),  # OPT, Phi
)
_SKIP = ("lm_head", "embed", "wte", "wpe", "score")


def _projection_leaves(model: nn.Module) -> set[str]:
    names = set()
    for name, module in model.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if any(s in name for s in _SKIP):
            continue
        if isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D":
            names.add(leaf)
    return names


def detect_lora_targets(model: nn.Module) -> list[str]:
    """The attention and MLP projection names of ``model``'s architecture (the best-covered
    known family, else every linear layer but the embeddings and the LM head)."""
    leaves = _projection_leaves(model)
    best = max(LORA_TARGET_FAMILIES, key=lambda fam: len(leaves.intersection(fam)))
    found = [n for n in best if n in leaves]
    if len(found) >= 2:
        return found
    if not leaves:
        raise LlaraError(f"no linear layers found in {type(model).__name__} to adapt with LoRA")
    return sorted(leaves)


def apply_tuning(model: nn.Module, mode: str, lora: LoraConfig | None = None) -> nn.Module:
    """Return the model prepared for ``mode``; only LoRA weights (lora), nothing (freeze) or
    everything (full) of the backbone stays trainable."""
    if mode == "full":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    if mode == "freeze":
        for p in model.parameters():
            p.requires_grad_(False)
        return model
    if mode != "lora":
        raise LlaraError(f"backbone.tuning: {mode!r} is not one of lora, freeze, full")
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    lora = lora or LoraConfig()
    targets = lora.target_modules or detect_lora_targets(model)
    fan_in_fan_out = any(type(m).__name__ == "Conv1D" for m in model.modules())
    config = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=targets,
        fan_in_fan_out=fan_in_fan_out,
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        raise LlaraError(f"backbone.lora.target_modules {targets}: {exc}") from exc


def trainable_parameter_names(module: nn.Module) -> list[str]:
    return [n for n, p in module.named_parameters() if p.requires_grad]


def count_parameters(module: nn.Module) -> dict[str, Any]:
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}
