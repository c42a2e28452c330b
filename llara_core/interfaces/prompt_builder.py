"""PromptBuilder: a recommendation sample -> instruction text with behaviour-token slots."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from pydantic import BaseModel

from llara_core.interfaces.component import Component
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
    behaviour embedding fills the i-th placeholder, in text order (the history's items and the
    candidates, in the order the template shows them). ``target`` is the answer text without
    terminator (None when unknown); ``template_index`` the template used.
    """

    text: str
    item_ids: tuple[int, ...]
    target: str | None
    template_index: int = 0


class PromptBuilder(Component, ABC):
    """Builds LLaRA prompts.

    Built as ``cls(titles=..., dataset_domain=..., **params)``:

      * ``titles`` (runtime argument, required): ``titles[i]`` is item ``i``'s title, for every
        item of the dataset (a sequence indexed by item id).
      * ``dataset_domain`` (runtime argument, optional): the dataset's domain from its manifest
        (``movie``, ``music``, ``game`` or ``item``). llara passes it only to a constructor that
        declares a parameter of that name (or ``**kwargs``); leave it out if you do not need it.
      * ``**params``: every field of ``Params``, by keyword.

    What llara reads and calls:

      * ``placeholder`` (str, class attribute, default ``"[ItemEmb]"``): the behaviour token,
        added to the tokenizer as one special token.
      * ``special_tokens()`` -> list of str: every token to add (the placeholder among them).
      * ``n_templates`` (int >= 1, a property or attribute): how many instruction templates there
        are to draw from.
      * ``build(sample, mode, template_index)`` -> :class:`Prompt`: ``text`` holds exactly one
        ``placeholder`` per entry of ``item_ids`` (none in text mode), the items in text order;
        in hybrid mode each item is its title followed by its placeholder; ``target`` is
        ``title(sample.target)`` (None without a target); ``template_index`` the template used.
      * ``title(item_id)`` -> str: the display text of one item, what the LLM should answer (one
        line).

    ``build`` is pure: the caller chooses the template (``template_index``, 0 <= index <
    ``n_templates``) from its own seeded generator, so the choice is made once per batch in the
    training process, never in data-loader workers; the same arguments give the same prompt.
    ``hyperparameters()`` is provided (see :class:`~llara_core.interfaces.component.Component`).
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
