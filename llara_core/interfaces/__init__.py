"""The abstract interfaces of llara's component slots.

Attributes are imported on first access (PEP 562): ``from llara_core.interfaces import
CurriculumScheduler`` imports only the curriculum module, while ``ItemEncoder`` and
``Projector`` (``torch.nn.Module`` subclasses) import torch. One module per slot holds that
slot's whole contract in its interface's docstring: every constructor argument the slot passes
at build time and every attribute and method llara uses; ``component`` holds what all slots share.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llara_core.interfaces.backbone import Backbone, BackboneLoader, BackboneOptions
    from llara_core.interfaces.component import Component
    from llara_core.interfaces.curriculum import CurriculumScheduler
    from llara_core.interfaces.item_encoder import ItemEncoder
    from llara_core.interfaces.projector import Projector
    from llara_core.interfaces.prompt_builder import Prompt, PromptBuilder, PromptMode, PromptSample

#: public name -> submodule defining it
_EXPORTS = {
    "Backbone": "backbone",
    "BackboneLoader": "backbone",
    "BackboneOptions": "backbone",
    "Component": "component",
    "CurriculumScheduler": "curriculum",
    "ItemEncoder": "item_encoder",
    "Projector": "projector",
    "Prompt": "prompt_builder",
    "PromptBuilder": "prompt_builder",
    "PromptMode": "prompt_builder",
    "PromptSample": "prompt_builder",
}

__all__ = [
    "Backbone",
    "BackboneLoader",
    "BackboneOptions",
    "Component",
    "CurriculumScheduler",
    "ItemEncoder",
    "Projector",
    "Prompt",
    "PromptBuilder",
    "PromptMode",
    "PromptSample",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
