"""The conformance kit: checks that a component honours its slot's contract.

For plugin authors and for llara's own built-ins, like scikit-learn's ``check_estimator`` and
``parametrize_with_checks``. Each ``check_*`` function takes a registered name (or a class,
registered for the duration of the checks) and optional params, builds the component through
its slot's registry with exactly the runtime arguments llara passes, and raises
:class:`~llara_core.errors.ConformanceError` (an ``AssertionError``) at the first check it
fails; it returns ``{check name: "passed" | "skipped: reason"}``::

    from llara_core.testing import check_item_encoder
    check_item_encoder("bag_of_items", {"dim": 8})

In a pytest suite, one test case per component and check::

    from llara_core.slots import ITEM_ENCODERS
    from llara_core.testing import parametrize_with_checks

    @parametrize_with_checks(ITEM_ENCODERS, distribution="llara-example-encoder")
    def test_conformance(check):
        check()

What is checked (``CHECKS`` lists every check with its one-line description):

* every slot: built with exactly the slot's runtime arguments; ``hyperparameters()`` equals
  the validated params (JSON-ready) both for a registry-built instance and for one constructed
  directly, and rebuilds the same component;
* item encoders: ``n_items``/``dim``/``history_len``/``pad_id``; shapes and dtypes of
  ``embed_items`` and ``score`` (and ``forward``); padding changes no score and gets no
  gradient; eval mode is deterministic; a checkpoint saves and reloads class, hyper-parameters
  and scores;
* projectors: ``(..., in_dim) -> (..., out_dim)`` row by row, dtype following, every parameter
  trainable, state-dict round trip (a size pair may be refused with a ``LlaraError``);
* prompt builders: every domain builds; one placeholder per item id in every template and mode,
  the sample's items, titles before their placeholders in hybrid mode, every title in text mode;
  the target is the title; single-line titles; ``build`` is pure;
* curricula: p(t) in ``[0, 1]``, a pure function of (step, total), ``state_dict`` round trip
  through JSON, ``total_steps < 1`` refused;
* backbones: built without loading; ``load()`` gives a causal LM in train mode fed
  ``inputs_embeds`` (left-padded batch, finite loss), a tokenizer with a pad token that takes
  the placeholder as one token, JSON-ready identity. A loader that declares
  ``expensive_to_check`` (every backbone by default; not the tiny random ones) is skipped by
  ``parametrize_with_checks`` unless ``expensive=True`` or ``LLARA_CHECK_EXPENSIVE=1``; one that
  raises :class:`~llara_core.errors.MissingDependencyError` (e.g. ``smollm2-135m`` without its
  wheel) is skipped.

Not imported by ``import llara_core``; torch is imported by the checks that need it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llara_core.errors import ConformanceError
from llara_core.testing.checks import (
    CHECKS,
    EXPENSIVE_ENV,
    Check,
    SkipCheck,
    Subject,
    checks_for,
    run_checks,
)
from llara_core.testing.parametrize import PytestCheck, parametrize_with_checks

__all__ = [
    "CHECKS",
    "EXPENSIVE_ENV",
    "Check",
    "ConformanceError",
    "PytestCheck",
    "SkipCheck",
    "Subject",
    "check_backbone",
    "check_curriculum",
    "check_item_encoder",
    "check_projector",
    "check_prompt_builder",
    "checks_for",
    "parametrize_with_checks",
    "run_checks",
]


def check_item_encoder(component: str | type, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Run every item encoder check on ``component`` (a name in ``ITEM_ENCODERS`` or a class)."""
    return run_checks("item_encoders", component, params)


def check_projector(component: str | type, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Run every projector check on ``component`` (a name in ``PROJECTORS`` or a class)."""
    return run_checks("projectors", component, params)


def check_prompt_builder(component: str | type, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Run every prompt builder check on ``component`` (a name in ``PROMPT_BUILDERS`` or a class)."""
    return run_checks("prompt_builders", component, params)


def check_curriculum(component: str | type, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Run every curriculum check on ``component`` (a name in ``CURRICULUM_SCHEDULERS`` or a class)."""
    return run_checks("curriculum_schedulers", component, params)


def check_backbone(component: str | type, params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Run every backbone check on ``component`` (a name in ``BACKBONES`` or a class): loads it,
    whatever its ``expensive_to_check`` (only ``parametrize_with_checks`` skips expensive ones)."""
    return run_checks("backbones", component, params)
