"""The abstract interfaces of llara's component slots."""

from llara_core.interfaces.backbone import Backbone, BackboneLoader
from llara_core.interfaces.curriculum import CurriculumScheduler
from llara_core.interfaces.item_encoder import ItemEncoder
from llara_core.interfaces.projector import Projector
from llara_core.interfaces.prompt_builder import Prompt, PromptBuilder, PromptMode, PromptSample

__all__ = [
    "Backbone",
    "BackboneLoader",
    "CurriculumScheduler",
    "ItemEncoder",
    "Projector",
    "Prompt",
    "PromptBuilder",
    "PromptMode",
    "PromptSample",
]
