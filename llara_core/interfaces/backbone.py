"""Backbone loader slot: a name/path plus options -> (causal LM, tokenizer)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from llara_core.interfaces.component import Component
from llara_core.registry import NoParams


# Defined here, in a module without torch, so that a loader's Params subclassing it can be read
# (validated, described) without importing torch; ``llara_core.model.backbone_setup`` holds the
# helpers that apply these options (``finish_backbone``). Subclass it for a loader's own Params.
class BackboneOptions(BaseModel):
    """Params every backbone loader accepts."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="weights dtype; float32 master weights are recommended for training"
    )
    attn_implementation: Literal["sdpa", "eager"] = "sdpa"
    gradient_checkpointing: bool | Literal["auto"] = Field(
        "auto",
        description="recompute activations in the backward pass (less memory, ~45% slower on CPU); "
        "auto = only when the trainer's memory estimate says the batch needs it",
    )
    use_chat_template: bool | None = Field(
        None, description="wrap prompts in the tokenizer's chat template; None = when it has one"
    )
    system_prompt: str | None = Field(
        "",
        description="system message of the chat template: '' = none, in the fewest tokens the template "
        "allows (replaces a template's silent default, e.g. SmolLM2's 31-token one); null = the "
        "template's own behaviour; any other text = that message",
    )


@dataclass
class Backbone:
    """A loaded causal LM and its tokenizer.

    ``model`` is a ``transformers.PreTrainedModel`` whose forward accepts ``inputs_embeds``,
    ``attention_mask``, ``labels`` and ``past_key_values``; ``tokenizer`` a fast tokenizer with a
    pad token set. ``identity`` describes the weights (id, file, hash) for result manifests;
    ``use_chat_template`` tells prompt formatting whether to wrap prompts as chat messages and
    ``system_prompt`` which system message to give (see ``PromptTokenizer``);
    ``gradient_checkpointing`` is ``True``, ``False`` or ``"auto"`` (the trainer decides).
    """

    model: Any
    tokenizer: Any
    identity: dict[str, Any] = field(default_factory=dict)
    use_chat_template: bool = False
    system_prompt: str | None = ""
    gradient_checkpointing: bool | str = False


class BackboneLoader(Component, ABC):
    """Loads a backbone. Built as ``cls(**params)`` (no runtime arguments); ``load()`` does the
    (slow) work.

    The provided ``__init__`` validates the params with ``Params`` into ``self.params``; a
    subclass that defines its own ``__init__`` must accept every field of ``Params`` by keyword
    and call ``super().__init__(**params)``. Subclass :class:`BackboneOptions` for ``Params``:
    ``dtype`` (float32 | bfloat16 | float16), ``attn_implementation`` (sdpa | eager),
    ``gradient_checkpointing`` (bool | auto), ``use_chat_template``, ``system_prompt``.

    ``load()`` -> :class:`Backbone`. llara reads its ``model``: a transformers causal LM whose
    forward accepts ``inputs_embeds``, ``attention_mask``, ``position_ids``, ``labels`` and
    ``past_key_values``, with ``get_input_embeddings()`` and ``config``, every parameter
    trainable (the caller applies the tuning mode, lora / freeze / full, and sets train or eval
    mode); its ``tokenizer``: a fast tokenizer with a pad token (llara adds its placeholder token
    to it); and ``identity`` (JSON-ready description of the weights), ``use_chat_template``,
    ``system_prompt`` and ``gradient_checkpointing``.
    ``llara_core.model.backbone_setup.finish_backbone`` applies the shared options and returns
    it. No network access unless the user asked for a hub id.

    ``expensive_to_check`` is True by default: loading a real LLM takes seconds, so the
    conformance kit skips backbones unless asked to include expensive checks; a loader that is
    fast offline (the tiny random ones) sets it to False.
    """

    Params: ClassVar[type[BaseModel]] = NoParams
    expensive_to_check: ClassVar[bool] = True

    def __init__(self, **params: Any):
        self.params = self.Params(**params)

    @property
    def params(self) -> BaseModel:
        params = self.__dict__.get("_params")
        return params if params is not None else self._built_params()

    @params.setter
    def params(self, value: BaseModel) -> None:
        self.__dict__["_params"] = value

    def hyperparameters(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")

    @abstractmethod
    def load(self) -> Backbone:
        """Load model and tokenizer; no network access unless the user asked for a hub id."""
