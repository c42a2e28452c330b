"""One generic registry for every component slot, with lazy entry-point discovery.

A slot (item encoders, projectors, ...) is a :class:`Registry` bound to an interface (an
abstract base class) and an entry-point group. Implementations arrive either by explicit
registration in code (:meth:`Registry.register`) or from installed distributions that declare
an entry point in the slot's group. Discovery reads distribution metadata only; nothing is
imported until a name is built, described or validated. A *preset* is a name that maps to an
implementation plus default params (like Fabric's ``ddp_spawn``).
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import inspect
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from llara_core.errors import (
    ComponentInterfaceError,
    DuplicateComponentError,
    PluginLoadError,
    UnknownComponentError,
)

#: Set to 1/true/yes to ignore entry points from every distribution but ``llara`` itself.
DISABLE_AUTOLOAD_ENV = "LLARA_DISABLE_PLUGIN_AUTOLOAD"
BUILTIN_DISTRIBUTION = "llara"


class NoParams(BaseModel):
    """Params model of a component that takes no parameters."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Preset:
    """A name that stands for ``base`` (another name in the same slot) with default ``params``.

    An entry point may point at a ``Preset`` object instead of a class.
    """

    base: str
    params: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""


@dataclass(frozen=True)
class Provider:
    """Where a registry entry came from."""

    distribution: str
    version: str | None
    origin: str  # "module:attribute" or "module.qualname"

    def __str__(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"{self.distribution}{version} ({self.origin})"


@dataclass
class _Entry:
    name: str
    provider: Provider
    target: Any = None  # class or Preset once loaded
    entry_point: md.EntryPoint | None = None
    summary: str | None = None
    error: BaseException | None = None


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0].strip() if (text or "").strip() else ""


_DIST_CACHE: dict[str, list[str]] | None = None


def _provider_of(module: str, qual: str) -> Provider:
    """The installed distribution that ships ``module``'s top-level package, if any."""
    global _DIST_CACHE
    if _DIST_CACHE is None:
        _DIST_CACHE = dict(md.packages_distributions())
    dists = _DIST_CACHE.get(module.split(".")[0], [])
    if dists:
        name = dists[0]
        try:
            version = md.version(name)
        except md.PackageNotFoundError:
            version = None
        return Provider(name, version, f"{module}.{qual}")
    return Provider(f"<code:{module.split('.')[0]}>", None, f"{module}.{qual}")


def _autoload_disabled() -> bool:
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class Registry:
    """Named implementations of one interface.

    Args:
        slot: the slot's plural name as used on the CLI, e.g. ``"projectors"``.
        interface: the abstract base every implementation must subclass.
        group: the entry-point group scanned for third-party implementations.
        contract: one paragraph describing what the slot holds (shown by ``describe``).
    """

    def __init__(self, slot: str, interface: type, group: str, contract: str = ""):
        self.slot = slot
        self.interface = interface
        self.group = group
        self.contract = contract or _first_line(interface.__doc__)
        self._entries: dict[str, _Entry] = {}
        self._conflicts: dict[str, list[Provider]] = {}
        self._discovered = False

    # ------------------------------------------------------------------ registration
    def register(
        self,
        name: str,
        obj: type | None = None,
        *,
        summary: str | None = None,
        override: bool = False,
    ) -> Callable[[type], type] | type:
        """Register ``obj`` under ``name``; usable as ``@registry.register("name")`` too.

        Raises ComponentInterfaceError when ``obj`` does not implement the slot's interface and
        DuplicateComponentError when ``name`` is taken (unless ``override=True``).
        """

        def _do(target: type) -> type:
            self._check_interface(name, target)
            provider = _provider_of(target.__module__, target.__qualname__)
            self._add(_Entry(name, provider, target=target, summary=summary), override)
            return target

        return _do if obj is None else _do(obj)

    def register_preset(
        self,
        name: str,
        base: str,
        params: Mapping[str, Any] | None = None,
        *,
        summary: str = "",
        override: bool = False,
    ) -> None:
        """Register ``name`` as ``base`` with default ``params`` (user params override them)."""
        preset = Preset(base=base, params=dict(params or {}), summary=summary)
        caller = sys._getframe(1).f_globals.get("__name__", "__main__")
        provider = _provider_of(caller, f"preset {name!r}")
        self._add(_Entry(name, provider, target=preset, summary=summary), override)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (tests and interactive sessions)."""
        self._entries.pop(name, None)
        self._conflicts.pop(name, None)

    def _add(self, entry: _Entry, override: bool) -> None:
        self._discover()
        old = self._entries.get(entry.name)
        if old is not None and not override:
            raise DuplicateComponentError(
                f"{self.slot}: the name {entry.name!r} is provided by both {old.provider} and "
                f"{entry.provider}; pick another name or pass override=True"
            )
        self._conflicts.pop(entry.name, None)
        self._entries[entry.name] = entry

    def _check_interface(self, name: str, target: Any) -> None:
        if isinstance(target, Preset):
            return
        if not (inspect.isclass(target) and issubclass(target, self.interface)):
            raise ComponentInterfaceError(
                f"{self.slot}: {name!r} ({getattr(target, '__qualname__', target)!r}) does not "
                f"implement {self.interface.__module__}.{self.interface.__qualname__}"
            )
        if inspect.isabstract(target):
            missing = sorted(getattr(target, "__abstractmethods__", ()))
            raise ComponentInterfaceError(
                f"{self.slot}: {name!r} ({target.__qualname__}) leaves abstract methods "
                f"unimplemented: {', '.join(missing)}"
            )
        params = getattr(target, "Params", NoParams)
        if not (inspect.isclass(params) and issubclass(params, BaseModel)):
            raise ComponentInterfaceError(
                f"{self.slot}: {name!r}.Params must be a pydantic BaseModel subclass"
            )

    # ------------------------------------------------------------------ discovery
    def _discover(self) -> None:
        """Record (without importing) every entry point of this slot's group. Idempotent."""
        if self._discovered:
            return
        self._discovered = True
        disabled = _autoload_disabled()
        seen: set[tuple[str, str, str]] = set()
        for ep in md.entry_points(group=self.group):
            dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
            version = ep.dist.version if ep.dist is not None else None
            if disabled and dist != BUILTIN_DISTRIBUTION:
                continue
            key = (ep.name, dist, ep.value)
            if key in seen:  # the same distribution seen twice on sys.path (editable installs)
                continue
            seen.add(key)
            entry = _Entry(ep.name, Provider(dist, version, ep.value), entry_point=ep)
            old = self._entries.get(ep.name)
            if old is not None and old.entry_point is None:
                continue  # a code registration kept by reset_discovery (possibly override=True) wins
            if old is not None:
                self._conflicts.setdefault(ep.name, [old.provider]).append(entry.provider)
                continue
            self._entries[ep.name] = entry

    def _load(self, name: str) -> _Entry:
        self._discover()
        if name in self._conflicts:
            providers = " and ".join(str(p) for p in self._conflicts[name])
            raise DuplicateComponentError(
                f"{self.slot}: the name {name!r} is provided by both {providers}; uninstall one "
                f"or register the one you want in code with override=True"
            )
        entry = self._entries.get(name)
        if entry is None:
            raise UnknownComponentError(self.unknown_message(name))
        if entry.target is None:
            if entry.error is None:
                try:
                    target = entry.entry_point.load()
                    self._check_interface(name, target)
                    entry.target = target
                except ComponentInterfaceError as exc:
                    entry.error = exc
                except Exception as exc:  # a broken plugin fails only when selected
                    entry.error = exc
            if entry.error is not None:
                raise PluginLoadError(
                    f"{self.slot}: {name!r} from distribution {entry.provider.distribution} "
                    f"(entry point {entry.provider.origin}) failed to load: "
                    f"{type(entry.error).__name__}: {entry.error}"
                ) from entry.error
        return entry

    def unknown_message(self, name: str) -> str:
        known = self.names()
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return (
            f"unknown {self.slot} name {name!r}{hint} "
            f"(known: {', '.join(known) if known else 'none registered'})"
        )

    # ------------------------------------------------------------------ queries
    def names(self) -> list[str]:
        """All registered names, sorted; imports nothing."""
        self._discover()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._discover()
        return name in self._entries

    def resolve(self, name: str) -> tuple[type, dict[str, Any]]:
        """The implementation behind ``name`` and the preset defaults collected on the way."""
        chain: list[str] = []
        defaults: dict[str, Any] = {}
        while True:
            if name in chain:
                raise DuplicateComponentError(f"{self.slot}: presets form a cycle: {chain + [name]}")
            chain.append(name)
            target = self._load(name).target
            if isinstance(target, Preset):
                defaults = {**target.params, **defaults}
                name = target.base
                continue
            return target, defaults

    def params_model(self, name: str) -> type[BaseModel]:
        return getattr(self.resolve(name)[0], "Params", NoParams)

    def validate_params(self, name: str, params: Mapping[str, Any] | None = None) -> BaseModel:
        """Preset defaults merged with ``params``, validated by the implementation's Params model.

        Raises pydantic.ValidationError on bad params.
        """
        impl, defaults = self.resolve(name)
        model = getattr(impl, "Params", NoParams)
        return model.model_validate({**defaults, **dict(params or {})})

    def build(self, name: str, params: Mapping[str, Any] | BaseModel | None = None, **runtime: Any) -> Any:
        """Instantiate ``name`` with validated ``params`` plus runtime dependencies.

        Runtime dependencies are things the user never types (an input size, a catalogue);
        params come from config. The implementation receives both as keyword arguments.
        """
        impl, _ = self.resolve(name)
        if not isinstance(params, BaseModel):
            params = self.validate_params(name, params)
        kwargs = {key: getattr(params, key) for key in type(params).model_fields}
        return impl(**kwargs, **runtime)

    def provider(self, name: str) -> Provider:
        self._discover()
        if name not in self._entries:
            raise UnknownComponentError(self.unknown_message(name))
        return self._entries[name].provider

    def describe(self, name: str) -> dict[str, Any]:
        """Implementation, providing distribution and version, summary and params JSON schema."""
        entry = self._load(name)
        impl, defaults = self.resolve(name)
        model = getattr(impl, "Params", NoParams)
        target = entry.target
        summary = entry.summary or (target.summary if isinstance(target, Preset) else "")
        summary = summary or _first_line(impl.__doc__)
        return {
            "slot": self.slot,
            "name": name,
            "implementation": f"{impl.__module__}.{impl.__qualname__}",
            "preset_of": target.base if isinstance(target, Preset) else None,
            "preset_params": defaults,
            "distribution": entry.provider.distribution,
            "version": entry.provider.version,
            "summary": summary,
            "params_schema": model.model_json_schema(),
        }

    def reset_discovery(self) -> None:
        """Forget entry points (keeps code registrations) so the next query rescans them."""
        self._entries = {k: e for k, e in self._entries.items() if e.entry_point is None}
        self._conflicts.clear()
        self._discovered = False
