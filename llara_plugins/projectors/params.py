"""Params models of the built-in projectors, in a module without torch.

Declared in the entry-point group ``llara.projectors.params`` (``identity`` takes none and
declares ``llara_core.registry:NoParams``); each projector class sets ``Params`` to its model here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MLPParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden_dim: int | None = Field(None, gt=0, description="inner width; None = out_dim (LLaRA)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0)


class LinearParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    bias: bool = True
