"""The experiment config schema. Every model forbids unknown keys.

A component is selected as ``{name: ..., params: {...}}`` or as a bare name. Component params
are checked against the chosen implementation's own ``Params`` model by
:func:`llara_core.config.validate.validate_config`, which reports every error at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Fabric's strategy names (lightning_fabric STRATEGY_REGISTRY plus the built-in aliases), listed
#: here so that validating a config imports no Lightning; a test keeps the list equal to Fabric's.
FABRIC_STRATEGIES = (
    "auto", "single_device", "dp", "ddp", "ddp_find_unused_parameters_true", "ddp_fork", "ddp_notebook",
    "ddp_spawn", "deepspeed", "deepspeed_stage_1", "deepspeed_stage_1_offload", "deepspeed_stage_2",
    "deepspeed_stage_2_offload", "deepspeed_stage_3", "deepspeed_stage_3_offload", "deepspeed_stage_3_offload_nvme",
    "fsdp", "fsdp_cpu_offload", "single_tpu", "single_xla", "xla", "xla_fsdp",
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class ComponentSpec(Strict):
    """A registered component: its name and its params (validated by the component)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class DataConfig(Strict):
    path: Path = Field(description="dataset folder in llara's format (manifest.json + splits)")
    n_candidates: int = Field(20, ge=2, description="candidates per prompt, target included")
    candidate_seed: int = Field(0, description="seed of the persisted val/test candidates")
    min_history: int = Field(1, ge=1, description="drop samples with a shorter history")
    max_train_samples: int | None = Field(None, gt=0, description="use the first N train samples")


class ItemEncoderConfig(Strict):
    """A trained sequential recommender (``checkpoint``) or an untrained one by name."""

    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    checkpoint: Path | None = Field(None, description="folder written by `llara sr train`")

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _name_or_checkpoint(self) -> ItemEncoderConfig:
        if self.name is None and self.checkpoint is None:
            raise ValueError("give a checkpoint folder or an item encoder name")
        return self


class LoraConfig(Strict):
    r: int = Field(8, gt=0)
    alpha: float = Field(32.0, gt=0)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    target_modules: list[str] | None = Field(
        None, description="None = the attention and MLP projections detected for the architecture"
    )


class BackboneConfig(Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    tuning: Literal["lora", "freeze", "full"] = "lora"
    lora: LoraConfig = Field(default_factory=LoraConfig)

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value


class TrainingConfig(Strict):
    seed: int = 0
    epochs: float = Field(1.0, gt=0, description="passes over the train split (ignored with max_steps)")
    max_steps: int | None = Field(None, gt=0, description="optimiser steps; overrides epochs")
    batch_size: int = Field(8, gt=0)
    grad_accum: int = Field(1, gt=0, description="micro-batches per optimiser step")
    lr: float = Field(8e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="linear warm-up share of the steps")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="cosine floor as a share of lr")
    grad_clip: float | None = Field(1.0, gt=0)
    hybrid_choice: Literal["batch", "sample"] = Field(
        "batch", description="draw text/hybrid once per batch (reference) or per sample"
    )
    behaviour_mode: Literal["hybrid", "behaviour"] = Field(
        "hybrid", description="prompt mode of a curriculum draw that is not text-only"
    )
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = Field("auto", description="Fabric strategy: auto, ddp, ddp_spawn, fsdp, ... (checked against FABRIC_STRATEGIES)")
    num_nodes: int = Field(1, gt=0, description="machines (Fabric num_nodes); devices is per node")

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        if value not in FABRIC_STRATEGIES:
            import difflib

            close = difflib.get_close_matches(value, FABRIC_STRATEGIES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown strategy {value!r}{hint} (Fabric knows: {', '.join(FABRIC_STRATEGIES)})")
        return value
    precision: str = Field(
        "auto",
        description="Fabric precision (32-true, bf16-mixed, ...); auto = bf16-mixed where the device "
        "computes bf16 natively (CUDA with bf16; CPU with amx_bf16 or avx512_bf16), else 32-true",
    )
    objective: Literal["lm", "listwise", "lm+listwise"] = Field(
        "lm",
        description="lm = LLaRA's answer-token loss; listwise = softmax cross-entropy over the N "
        "candidates' answer log-likelihoods (the supervised core of S-DPO; beyond the paper); "
        "lm+listwise = lm + listwise_weight * listwise",
    )
    listwise_weight: float = Field(1.0, gt=0, description="weight of the listwise term in lm+listwise")
    listwise_length_normalise: bool = Field(
        True, description="listwise scores are mean per-token log-likelihoods (summed ones favour short titles)"
    )
    length_group_window: int | None = Field(
        32,
        gt=0,
        description="batch samples of similar prompt length within shuffled windows of this many "
        "batches (less padding); null = plain shuffled batches",
    )
    num_workers: int = Field(0, ge=0)
    log_every: int = Field(1, gt=0)
    val_every: int | None = Field(None, gt=0, description="validate every N optimiser steps")
    val_samples: int | None = Field(None, gt=0, description="validate on the first N val samples")
    val_seeds: list[int] | None = Field(
        None, min_length=1, description="val candidate seeds whose mean metric is validated (null = data.candidate_seed)"
    )
    val_metric: Literal["hr@1", "ndcg@5", "mrr", "loss"] = "hr@1"
    patience: int | None = Field(None, gt=0, description="stop after N validations without gain")
    checkpoint_every: int | None = Field(None, gt=0, description="save every N optimiser steps")
    out_dir: Path = Path("runs/llara")


class EvaluationConfig(Strict):
    split: Literal["val", "test"] = "test"
    mode: Literal["generate", "score", "both"] = "both"
    seeds: list[int] = Field(default_factory=lambda: [0])
    batch_size: int = Field(8, gt=0)
    max_new_tokens: int = Field(64, gt=0)
    length_normalise: bool | None = Field(
        None,
        description="rank by the mean (true) or the sum (false) of answer log-probs; null = as training "
        "ranked them: mean when trained listwise with listwise_length_normalise, else sum",
    )
    prompt_mode: Literal["text", "hybrid", "behaviour"] | None = Field(
        None, description="None = hybrid when trained with behaviour tokens, else text"
    )


class ExperimentConfig(Strict):
    name: str = "llara"
    data: DataConfig
    item_encoder: ItemEncoderConfig
    projector: ComponentSpec = Field(default_factory=lambda: ComponentSpec(name="mlp"))
    prompt_builder: ComponentSpec = Field(default_factory=lambda: ComponentSpec(name="llara"))
    curriculum: ComponentSpec = Field(default_factory=lambda: ComponentSpec(name="linear"))
    backbone: BackboneConfig
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)

    def scoring_length_normalise(self) -> bool:
        """Whether validation and evaluation rank candidates by mean (not summed) answer log-probs:
        ``evaluation.length_normalise`` when set, else as the training objective scored them."""
        if self.evaluation.length_normalise is not None:
            return self.evaluation.length_normalise
        return self.training.objective != "lm" and self.training.listwise_length_normalise
