"""PromptBuilder: a recommendation sample -> instruction text with behaviour-token slots."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from pydantic import BaseModel

from llara_core.registry import NoParams

#: The one token whose input embedding is replaced by a projected behaviour embedding.
ITEM_PLACEHOLDER = "[ItemEmb]"


class PromptMode(str, Enum):
    """How items appear in a prompt."""

    TEXT = "text"  # titles only
    HYBRID = "hybrid"  # title followed by one behaviour token, per item
    BEHAVIOUR = "behaviour"  # one behaviour token per item, no titles


@dataclass(frozen=True)
class PromptSample:
    """One recommendation request: history in time order, candidates in display order."""

    history: Sequence[int]
    candidates: Sequence[int]
    target: int | None = None


@dataclass(frozen=True)
class Prompt:
    """A built prompt.

    ``text`` holds one ``placeholder`` per behaviour slot; ``item_ids[i]`` is the item whose
    behaviour embedding fills the i-th placeholder (history slots first, then candidates, in
    text order). ``target`` is the answer text without terminator (None when unknown).
    """

    text: str
    item_ids: tuple[int, ...]
    target: str | None
    template_index: int = 0


class PromptBuilder(ABC):
    """Builds LLaRA prompts.

    Constructed as ``cls(titles=..., dataset_domain=..., **params)`` where ``titles[i]`` is
    item i's title and ``dataset_domain`` the dataset's domain (movie, music, game, item), both
    runtime dependencies from the dataset. ``build`` is pure: the caller chooses the template
    (``template_index``, 0 <= index < ``n_templates``) from its own seeded generator, so the
    choice is made once per batch in the training process, never in data-loader workers.
    """

    Params: ClassVar[type[BaseModel]] = NoParams
    placeholder: ClassVar[str] = ITEM_PLACEHOLDER

    @property
    @abstractmethod
    def n_templates(self) -> int:
        """Number of instruction templates to draw from (>= 1)."""

    @abstractmethod
    def build(self, sample: PromptSample, mode: PromptMode, template_index: int = 0) -> Prompt:
        """The prompt for ``sample`` in ``mode`` using template ``template_index``."""

    @abstractmethod
    def title(self, item_id: int) -> str:
        """The display text of one item (what the LLM should answer)."""

    def special_tokens(self) -> list[str]:
        """Tokens the tokenizer must treat as single, unsplittable tokens."""
        return [self.placeholder]
