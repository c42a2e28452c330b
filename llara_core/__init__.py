"""llara core: component interfaces, registries, config, data, training and evaluation.

Implementations live in ``llara_plugins`` (or any third-party distribution) and arrive through
entry points; this package never imports them directly.
"""

from llara_core.errors import ConfigError, DataError, LlaraError
from llara_core.interfaces import (
    Backbone,
    BackboneLoader,
    CurriculumScheduler,
    ItemEncoder,
    Projector,
    Prompt,
    PromptBuilder,
    PromptMode,
    PromptSample,
)
from llara_core.model.llara import LLaRA
from llara_core.registry import Preset, Registry
from llara_core.slots import (
    BACKBONES,
    CURRICULUM_SCHEDULERS,
    ITEM_ENCODERS,
    PROJECTORS,
    PROMPT_BUILDERS,
    SLOTS,
)

__version__ = "0.1.0"

__all__ = [
    "BACKBONES",
    "CURRICULUM_SCHEDULERS",
    "ITEM_ENCODERS",
    "PROJECTORS",
    "PROMPT_BUILDERS",
    "SLOTS",
    "Backbone",
    "BackboneLoader",
    "ConfigError",
    "CurriculumScheduler",
    "DataError",
    "ItemEncoder",
    "LLaRA",
    "LlaraError",
    "Preset",
    "Projector",
    "Prompt",
    "PromptBuilder",
    "PromptMode",
    "PromptSample",
    "Registry",
]
