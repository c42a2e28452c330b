"""llara core: component interfaces, registries, config, data, training and evaluation.

Implementations live in ``llara_plugins`` (or any third-party distribution) and arrive through
entry points; this package never imports them directly.

The public names below are imported on first access (PEP 562), so ``import llara_core`` (and
the command line's ``--help``, ``components`` and ``config validate``) import no torch;
``from llara_core import LLaRA`` imports the model as before.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from llara_core.errors import ConfigError, DataError, LlaraError

if TYPE_CHECKING:
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

#: public name -> module defining it, imported when the name is first used
_LAZY = {
    **{name: "llara_core.slots" for name in (
        "BACKBONES", "CURRICULUM_SCHEDULERS", "ITEM_ENCODERS", "PROJECTORS", "PROMPT_BUILDERS", "SLOTS",
    )},
    "Backbone": "llara_core.interfaces.backbone",
    "BackboneLoader": "llara_core.interfaces.backbone",
    "CurriculumScheduler": "llara_core.interfaces.curriculum",
    "ItemEncoder": "llara_core.interfaces.item_encoder",
    "Projector": "llara_core.interfaces.projector",
    "Prompt": "llara_core.interfaces.prompt_builder",
    "PromptBuilder": "llara_core.interfaces.prompt_builder",
    "PromptMode": "llara_core.interfaces.prompt_builder",
    "PromptSample": "llara_core.interfaces.prompt_builder",
    "LLaRA": "llara_core.model.llara",
    "Preset": "llara_core.registry",
    "Registry": "llara_core.registry",
}

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
