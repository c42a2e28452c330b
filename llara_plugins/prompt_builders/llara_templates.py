"""LLaRA's instruction templates: three per domain (movie, music artist, game), one drawn per batch.

The wording is the reference's, except that the candidate count is filled in from the sample
(the reference says "10 titles" while it shows 20 candidates).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from llara_core.errors import ConfigError
from llara_core.prompting import TemplatePromptBuilder

DOMAIN_FILES = {"movie": "movie.txt", "music": "music.txt", "game": "game.txt", "item": "item.txt"}


def domain_templates(domain: str) -> list[str]:
    text = resources.files("llara_plugins.prompt_builders").joinpath("templates", DOMAIN_FILES[domain]).read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


class LLaRAParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: Literal["auto", "movie", "music", "game", "item"] = Field(
        "auto", description="template wording; auto = the dataset's domain"
    )
    templates: list[int] | None = Field(None, description="use only these template indices (0-2)")


class LLaRAPromptBuilder(TemplatePromptBuilder):
    """LLaRA's three templates for the dataset's domain (movie, music, game; generic 'item')."""

    Params = LLaRAParams

    def __init__(
        self,
        titles: Sequence[str] | Mapping[int, str],
        dataset_domain: str = "item",
        domain: str = "auto",
        templates: list[int] | None = None,
    ):
        chosen = dataset_domain if domain == "auto" else domain
        all_templates = domain_templates(chosen if chosen in DOMAIN_FILES else "item")
        if templates is not None:
            bad = [i for i in templates if not 0 <= i < len(all_templates)]
            if bad or not templates:
                raise ConfigError([("prompt_builder.params.templates",
                                    f"indices must be in 0..{len(all_templates) - 1}, got {templates}")])
            all_templates = [all_templates[i] for i in templates]
        super().__init__(titles, all_templates)
        self.domain = chosen
