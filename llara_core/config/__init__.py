"""Experiment configuration: pydantic schema, whole-config validation, YAML loading."""

from llara_core.config.schema import (
    BackboneConfig,
    ComponentSpec,
    DataConfig,
    EvaluationConfig,
    ExperimentConfig,
    ItemEncoderConfig,
    LoraConfig,
    TrainingConfig,
)
from llara_core.config.validate import (
    COMPONENT_SECTIONS,
    apply_overrides,
    load_config,
    resolved_config,
    validate_config,
)

__all__ = [
    "BackboneConfig",
    "COMPONENT_SECTIONS",
    "ComponentSpec",
    "DataConfig",
    "EvaluationConfig",
    "ExperimentConfig",
    "ItemEncoderConfig",
    "LoraConfig",
    "TrainingConfig",
    "apply_overrides",
    "load_config",
    "resolved_config",
    "validate_config",
]
