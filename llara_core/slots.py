"""The five component slots of llara, each a Registry bound to its interface and entry-point group.

The interfaces are named by import string: creating the registries, listing names and
validating params (through params entry points) import no torch; the interface module is
imported when a class is registered or loaded. Each registry declares the runtime arguments its
builds pass to every constructor (checked at registration, see
:class:`~llara_core.registry.RuntimeArgument`); the interface's docstring states the same
contract together with the attributes and methods llara uses.
"""

from __future__ import annotations

from typing import Any

from llara_core.registry import Registry, RuntimeArgument, positive_int


def _titles(value: Any) -> str | None:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__getitem__") or not hasattr(value, "__len__"):
        return f"must be a sequence of titles indexed by item id, got {type(value).__name__}"
    if len(value) == 0:
        return "must hold at least one title (the catalogue is empty)"
    return None


def _domain(value: Any) -> str | None:
    return None if isinstance(value, str) else f"must be a string, got {type(value).__name__}"

ITEM_ENCODERS = Registry(
    "item_encoders",
    "llara_core.interfaces.item_encoder:ItemEncoder",
    "llara.item_encoders",
    "Sequential recommenders: item ids -> behaviour embeddings (dim d) and next-item scores.",
    runtime=(RuntimeArgument("n_items", "the catalogue size; item ids are 0..n_items-1 and n_items is padding", check=positive_int),),
)
PROJECTORS = Registry(
    "projectors",
    "llara_core.interfaces.projector:Projector",
    "llara.projectors",
    "Trainable maps from behaviour embeddings (d) to the LLM's hidden size (H).",
    runtime=(
        RuntimeArgument("in_dim", "the item encoder's dim", check=positive_int),
        RuntimeArgument("out_dim", "the backbone's hidden size", check=positive_int),
    ),
)
PROMPT_BUILDERS = Registry(
    "prompt_builders",
    "llara_core.interfaces.prompt_builder:PromptBuilder",
    "llara.prompt_builders",
    "Sample + mode (text / hybrid / behaviour) -> prompt text, placeholder item ids, target.",
    runtime=(
        RuntimeArgument("titles", "titles[i] is item i's title", check=_titles),
        RuntimeArgument(
            "dataset_domain",
            "the dataset's domain (movie, music, game, item); passed only to a constructor that declares it",
            required=False,
            check=_domain,
        ),
    ),
)
CURRICULUM_SCHEDULERS = Registry(
    "curriculum_schedulers",
    "llara_core.interfaces.curriculum:CurriculumScheduler",
    "llara.curriculum_schedulers",
    "(global step, total steps) -> probability of a hybrid prompt.",
    runtime=(),
)
BACKBONES = Registry(
    "backbones",
    "llara_core.interfaces.backbone:BackboneLoader",
    "llara.backbones",
    "Causal language models with their tokenizers (hub id, local folder, GGUF, presets).",
    runtime=(),
)

SLOTS: dict[str, Registry] = {
    r.slot: r for r in (ITEM_ENCODERS, PROJECTORS, PROMPT_BUILDERS, CURRICULUM_SCHEDULERS, BACKBONES)
}


def get_slot(name: str) -> Registry:
    """The registry of slot ``name`` (plural, as in ``llara components projectors``)."""
    from llara_core.errors import UnknownComponentError

    key = name.replace("-", "_")
    if key not in SLOTS:
        import difflib

        close = difflib.get_close_matches(key, list(SLOTS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UnknownComponentError(f"unknown slot {name!r}{hint} (slots: {', '.join(SLOTS)})")
    return SLOTS[key]
