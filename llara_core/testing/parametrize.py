"""``parametrize_with_checks``: one pytest case per (component, check), like scikit-learn's."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from llara_core.errors import UnknownComponentError
from llara_core.registry import Registry
from llara_core.testing.checks import EXPENSIVE_ENV, Check, SkipCheck, checks_for


class PytestCheck:
    """A :class:`~llara_core.testing.checks.Check` as a pytest parameter: calling it runs the
    check; a check that cannot run here (:class:`SkipCheck`) becomes ``pytest.skip``."""

    def __init__(self, check: Check):
        self.check = check

    @property
    def id(self) -> str:
        return self.check.id

    def __call__(self) -> None:
        import pytest

        try:
            self.check()
        except SkipCheck as exc:
            pytest.skip(str(exc))

    def __repr__(self) -> str:
        return repr(self.check)


def _expensive_default() -> bool:
    return os.environ.get(EXPENSIVE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def parametrize_with_checks(
    *registries: Registry,
    names: Iterable[str] | None = None,
    distribution: str | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    expensive: bool | None = None,
):
    """``pytest.mark.parametrize("check", ...)`` over every check of every selected component.

    Args:
        registries: the slots to cover, e.g. ``ITEM_ENCODERS`` or ``*SLOTS.values()``.
        names: only these component names (each must be registered in one of the registries).
        distribution: only components provided by this distribution (e.g. ``"llara"``).
        params: ``{name: params}`` for components that need some (others are built with none;
            a component whose Params requires a field it was not given is skipped).
        expensive: include components that declare ``expensive_to_check`` (a real LLM
            backbone); default: only when the environment sets ``LLARA_CHECK_EXPENSIVE=1``.
            Excluded ones are collected as skipped.

    The test receives ``check``; calling ``check()`` runs it::

        @parametrize_with_checks(ITEM_ENCODERS, names=["bag_of_items"])
        def test_conformance(check):
            check()

    Listing the names imports nothing; deciding whether a component is expensive imports it
    (a component that fails to import is not skipped: its checks fail with the import error).
    """
    import pytest

    include_expensive = _expensive_default() if expensive is None else expensive
    wanted = None if names is None else list(names)
    if wanted is not None:
        unknown = [n for n in wanted if not any(n in r for r in registries)]
        if unknown:
            raise UnknownComponentError(
                f"parametrize_with_checks: {', '.join(map(repr, unknown))} is registered in none of "
                f"{', '.join(r.slot for r in registries)}"
            )
    cases = []
    for registry in registries:
        for name in registry.names():
            if wanted is not None and name not in wanted:
                continue
            if distribution is not None and registry.provider(name).distribution != distribution:
                continue
            checks = checks_for(registry, name, (params or {}).get(name))
            skip = [] if include_expensive or not checks or not checks[0].expensive() else [pytest.mark.skip(
                reason=f"{registry.slot} {name!r} is expensive to check (expensive_to_check); "
                       f"include it with expensive=True or {EXPENSIVE_ENV}=1"
            )]
            cases += [pytest.param(PytestCheck(c), id=c.id, marks=skip) for c in checks]
    return pytest.mark.parametrize("check", cases)
