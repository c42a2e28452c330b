"""Template-based prompt building shared by prompt-builder plugins.

A template is one line of instruction text with the slots ``[HistoryHere]`` (required),
``[CansHere]`` (required) and ``[CansNum]`` (optional, the number of candidates). Items are
rendered per mode: text ``Title``; hybrid ``Title [ItemEmb]``; behaviour ``[ItemEmb]``, joined
with ``", "`` as in LLaRA.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llara_core.errors import ConfigError
from llara_core.interfaces.prompt_builder import Prompt, PromptBuilder, PromptMode, PromptSample

SLOT_HISTORY = "[HistoryHere]"
SLOT_CANDIDATES = "[CansHere]"
SLOT_COUNT = "[CansNum]"


def template_errors(template: str) -> list[str]:
    """What is wrong with one template (empty when valid)."""
    errors = []
    for slot in (SLOT_HISTORY, SLOT_CANDIDATES):
        n = template.count(slot)
        if n != 1:
            errors.append(f"must contain {slot} exactly once (found {n})")
    if "\n" in template.strip():
        errors.append("must be a single line")
    return errors


class TemplatePromptBuilder(PromptBuilder):
    """Fills one of ``templates`` with the sample's items. Subclasses choose the templates."""

    def __init__(self, titles: Sequence[str] | Mapping[int, str], templates: Sequence[str]):
        if not templates:
            raise ConfigError([("prompt_builder.params.templates", "a prompt builder needs at least one template")])
        errors = [(f"prompt_builder.params.templates.{i}", f"{t[:40]!r}...: {'; '.join(errs)}")
                  for i, t in enumerate(templates) if (errs := template_errors(t))]
        if errors:
            raise ConfigError(errors)
        self.templates = [t.strip() for t in templates]
        self._titles = titles

    @property
    def n_templates(self) -> int:
        return len(self.templates)

    def title(self, item_id: int) -> str:
        return str(self._titles[int(item_id)]).strip()

    def _render(self, items: Sequence[int], mode: PromptMode) -> tuple[str, list[int]]:
        if mode is PromptMode.TEXT:
            return ", ".join(self.title(i) for i in items), []
        if mode is PromptMode.HYBRID:
            return ", ".join(f"{self.title(i)} {self.placeholder}" for i in items), [int(i) for i in items]
        return ", ".join(self.placeholder for _ in items), [int(i) for i in items]

    def build(self, sample: PromptSample, mode: PromptMode, template_index: int = 0) -> Prompt:
        mode = PromptMode(mode)
        template = self.templates[template_index % len(self.templates)]
        history, hist_ids = self._render(sample.history, mode)
        cands, cand_ids = self._render(sample.candidates, mode)
        # slots are filled in text order so item_ids follow the placeholders left to right
        first_hist = template.index(SLOT_HISTORY) < template.index(SLOT_CANDIDATES)
        text = template.replace(SLOT_COUNT, str(len(sample.candidates)))
        text = text.replace(SLOT_HISTORY, history).replace(SLOT_CANDIDATES, cands)
        ids = hist_ids + cand_ids if first_hist else cand_ids + hist_ids
        target = self.title(sample.target) if sample.target is not None else None
        return Prompt(text=text, item_ids=tuple(ids), target=target, template_index=template_index % len(self.templates))
