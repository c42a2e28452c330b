"""Params models of the built-in item encoders, in a module without torch.

Declared in the entry-point group ``llara.item_encoders.params`` so that configs are validated
and ``llara components --describe`` answers without importing the encoders (and torch); each
encoder class sets ``Params`` to its model here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SASRecParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dim: int = Field(64, gt=0, description="hidden size (item embedding width)")
    history_len: int = Field(10, gt=0, description="longest history the model reads")
    num_heads: int = Field(1, gt=0)
    dropout: float = Field(
        0.5, ge=0.0, lt=1.0,
        description="embedding, attention and FFN dropout (LLaRA's checkpoints: 0.1; 0.5 generalises "
        "better on its MovieLens and LastFM splits, see docs/results.md)",
    )

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> SASRecParams:
        if self.dim % self.num_heads:
            raise ValueError(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        return self


class GRU4RecParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dim: int = Field(64, gt=0, description="item embedding width and GRU hidden size")
    history_len: int = Field(10, gt=0, description="longest history the model reads")
    num_layers: int = Field(1, gt=0, description="stacked GRU layers (LLaRA: 1)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on embeddings and final state")


class CaserParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dim: int = Field(64, gt=0, description="item embedding width")
    history_len: int = Field(10, gt=0, description="history rows of the embedding matrix")
    num_filters: int = Field(16, gt=0, description="filters per horizontal height")
    filter_sizes: list[int] = Field([2, 3, 4], min_length=1, description="horizontal filter heights")
    dropout: float = Field(0.1, ge=0.0, lt=1.0, description="dropout before s_fc")

    @model_validator(mode="after")
    def _filters_fit(self) -> CaserParams:
        bad = [h for h in self.filter_sizes if not 1 <= h <= self.history_len]
        if bad:
            raise ValueError(f"filter heights {bad} must lie in 1..history_len ({self.history_len})")
        return self
