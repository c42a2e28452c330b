"""Prompt builder for user-supplied templates, given in the config or in a text file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from llara_core.prompting import TemplatePromptBuilder, template_errors


class UserTemplateParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    templates: list[str] | None = Field(None, description="one instruction per entry")
    file: Path | None = Field(None, description="UTF-8 text file, one template per line")

    @model_validator(mode="after")
    def _check(self) -> UserTemplateParams:
        if (self.templates is None) == (self.file is None):
            raise ValueError("give exactly one of templates or file")
        if self.file is not None and not self.file.is_file():
            raise ValueError(f"template file {self.file} not found")
        errors = [f"template {i}: {e}" for i, t in enumerate(self.lines()) for e in template_errors(t)]
        if not self.lines():
            errors.append("no templates given")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def lines(self) -> list[str]:
        if self.templates is not None:
            return [t.strip() for t in self.templates if t.strip()]
        return [t.strip() for t in self.file.read_text(encoding="utf-8").splitlines() if t.strip()]


class UserTemplatePromptBuilder(TemplatePromptBuilder):
    """Your own templates, each with [HistoryHere] and [CansHere] (and optionally [CansNum])."""

    Params = UserTemplateParams
    #: what the conformance kit builds it with (its Params needs templates or a file)
    check_params = {"templates": ["History: [HistoryHere]. Pick one of [CansNum]: [CansHere]", "[CansHere] after [HistoryHere]?"]}

    def __init__(
        self,
        titles: Sequence[str] | Mapping[int, str],
        dataset_domain: str = "item",
        templates: list[str] | None = None,
        file: Path | None = None,
    ):
        super().__init__(titles, UserTemplateParams(templates=templates, file=file).lines())
