"""One generic registry for every component slot, with lazy entry-point discovery.

A slot (item encoders, projectors, ...) is a :class:`Registry` bound to an interface (an
abstract base class) and an entry-point group. Implementations arrive either by explicit
registration in code (:meth:`Registry.register`) or from installed distributions that declare
an entry point in the slot's group. Discovery reads distribution metadata only; nothing is
imported until a name is built, described or validated. A *preset* is a name that maps to an
implementation plus default params (like Fabric's ``ddp_spawn``).

Staying light: a registry may name its interface as an import string, resolved only when a
class must be checked (registration, loading an implementation). A distribution may declare a
component's ``Params`` model in the group ``<group>.params`` (same name, same distribution), in
a module that imports nothing heavy: params validation, ``params_model`` and ``describe`` then
read it without importing the implementation; ``brief`` (what ``llara components`` lists) reads
summaries from the module source with :mod:`ast`, without executing it.

Contracts: a slot declares the *runtime arguments* it passes to every constructor at build time
(:class:`RuntimeArgument`: ``n_items`` for item encoders, ``in_dim``/``out_dim`` for projectors,
...). Like pluggy checking a hook implementation against its spec, registration checks that a
class's constructor accepts them and every field of its ``Params`` and requires nothing else; for
an entry point not imported yet the same check runs on its source (``ast``), so the error shows
when the component is listed or its config validated, naming its distribution.

Precedence: a name provided by llara itself (the distribution ``llara``) wins over a third-party
entry point of the same name, unless that entry point is declared in the group
``<group>.overrides``; either way the shadowing is recorded (:meth:`Registry.shadowed`, shown by
``llara components``).
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.machinery
import importlib.metadata as md
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from llara_core.errors import (
    BuildArgumentError,
    ComponentInterfaceError,
    DuplicateComponentError,
    LlaraError,
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


@dataclass(frozen=True)
class RuntimeArgument:
    """An argument a slot passes to every constructor at build time, never typed by the user.

    ``required``: every constructor must accept it (by name or ``**kwargs``) and every build
    passes it. Otherwise it is passed when the caller knows it, and only to a constructor that
    declares it (by name or ``**kwargs``): a plugin may leave it out.

    ``check``: ``value -> None or what is wrong with it``, run by every build before the
    constructor (so ``n_items=0`` is refused by llara, whatever the plugin does).
    """

    name: str
    description: str
    required: bool = True
    check: Callable[[Any], str | None] | None = field(default=None, compare=False)


def positive_int(value: Any) -> str | None:
    """A RuntimeArgument check: an int >= 1 (not a bool)."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return f"must be a positive integer, got {type(value).__name__} {value!r}"
    if int(value) < 1:
        return f"must be a positive integer, got {value}"
    return None


@dataclass(frozen=True)
class Shadowing:
    """One entry point that lost its name to another provider (see :meth:`Registry.shadowed`).

    ``explicit``: ``used`` declared its entry point in the overrides group and replaces the
    built-in ``ignored``; otherwise llara's built-in ``used`` wins over ``ignored``.
    """

    slot: str
    name: str
    used: Provider
    ignored: Provider
    explicit: bool
    overrides_group: str

    def __str__(self) -> str:
        if self.explicit:
            return (f"{self.name}: llara's built-in ({self.ignored.origin}) is replaced by "
                    f"{self.used}, an explicit override ({self.overrides_group})")
        return (f"{self.name}: {self.ignored} is ignored: llara's built-in of that name wins "
                f"(a plugin replaces it only by declaring its entry point in {self.overrides_group})")


@dataclass(frozen=True)
class _Signature:
    """What a constructor accepts, read from the class (inspect) or from its source (ast)."""

    owner: str  # "Class.__init__", for messages
    keywords: frozenset[str] = frozenset()  # accepted by keyword
    required: frozenset[str] = frozenset()  # keyword-able and without default
    positional_only: tuple[str, ...] = ()  # required positional-only parameters
    var_keyword: bool = False

    def accepts(self, name: str) -> bool:
        return self.var_keyword or name in self.keywords


def _is_torch_module(cls: type) -> bool:
    return cls.__name__ == "Module" and cls.__module__ == "torch.nn.modules.module"


def _class_signature(cls: type) -> _Signature | None:
    """The constructor signature of ``cls``; None when it cannot be read."""
    owner = next((k for k in cls.__mro__ if "__init__" in vars(k)), object)
    if owner is object or _is_torch_module(owner):  # nn.Module.__init__ refuses any argument
        return _Signature(f"{owner.__qualname__}.__init__ (inherited by {cls.__qualname__})")
    try:
        signature = inspect.signature(owner.__init__)
    except (TypeError, ValueError):
        return None
    keywords: set[str] = set()
    required: set[str] = set()
    positional_only: list[str] = []
    var_keyword = False
    for i, p in enumerate(signature.parameters.values()):
        if i == 0 and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            continue  # self
        if p.kind is p.VAR_KEYWORD:
            var_keyword = True
        elif p.kind is p.POSITIONAL_ONLY:
            if p.default is p.empty:
                positional_only.append(p.name)
        elif p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            keywords.add(p.name)
            if p.default is p.empty:
                required.add(p.name)
    label = f"{owner.__qualname__}.__init__"
    if owner is not cls:
        label += f" (inherited by {cls.__qualname__})"
    return _Signature(label, frozenset(keywords), frozenset(required), tuple(positional_only), var_keyword)


def _ast_signature(fn: ast.FunctionDef | ast.AsyncFunctionDef, label: str) -> _Signature | None:
    if fn.decorator_list:
        return None  # a decorator may change what it accepts
    a = fn.args
    positional = [*a.posonlyargs, *a.args]
    if not positional:
        return None
    first_default = len(positional) - len(a.defaults)
    keywords: set[str] = set()
    required: set[str] = set()
    positional_only: list[str] = []
    for i, arg in enumerate(positional[1:], start=1):
        has_default = i >= first_default
        if i < len(a.posonlyargs):
            if not has_default:
                positional_only.append(arg.arg)
            continue
        keywords.add(arg.arg)
        if not has_default:
            required.add(arg.arg)
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        keywords.add(arg.arg)
        if default is None:
            required.add(arg.arg)
    return _Signature(label, frozenset(keywords), frozenset(required), tuple(positional_only), a.kwarg is not None)


#: base classes whose constructor is object's
_TERMINAL_BASES = {"object", "ABC", "Generic", "Protocol"}


def _parse_module(module: str, cache: dict[str, tuple[ast.Module, bool] | None]) -> tuple[ast.Module, bool] | None:
    """(tree, is_package) of ``module``'s source, found without importing it."""
    if module not in cache:
        path = _module_file(module)
        source = _read_text(path) if path else None
        try:
            cache[module] = None if source is None else (ast.parse(source), str(path).endswith("__init__.py"))
        except (SyntaxError, ValueError):
            cache[module] = None
    return cache[module]


def _class_node(tree: ast.Module, name: str) -> ast.ClassDef | None:
    found = None
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            found = node
    return found


def _imported_name(tree: ast.Module, module: str, is_package: bool, name: str) -> tuple[str, str] | None:
    """(module, attribute) that a top-level ``from ... import`` binds to ``name`` (also inside
    top-level ``if``/``try`` blocks, e.g. ``if TYPE_CHECKING:`` re-exports)."""
    nodes: list[ast.stmt] = []
    for node in tree.body:
        nodes.append(node)
        if isinstance(node, ast.If):
            nodes += node.body + node.orelse
        elif isinstance(node, ast.Try):
            nodes += node.body
    for node in nodes:
        if not isinstance(node, ast.ImportFrom):
            continue
        for alias in node.names:
            if (alias.asname or alias.name) != name:
                continue
            if node.level:
                parts = module.split(".")
                package = parts if is_package else parts[:-1]
                package = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = ".".join([*package, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            return (target, alias.name) if target else None
    return None


def _static_init(module: str, name: str, cache: dict | None = None, depth: int = 0) -> _Signature | None:
    """The constructor signature of class ``name`` of ``module``, read from sources only
    (following single inheritance through ``from ... import``); None when the sources cannot
    tell (several bases, a base reached by attribute such as ``nn.Module``, a decorated
    ``__init__``)."""
    cache = {} if cache is None else cache
    parsed = _parse_module(module, cache) if depth < 12 else None
    if parsed is None:
        return None
    tree, is_package = parsed
    node = _class_node(tree, name)
    if node is None:
        target = _imported_name(tree, module, is_package, name)
        return None if target is None else _static_init(*target, cache, depth + 1)
    for stmt in reversed(node.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == "__init__":
            return _ast_signature(stmt, f"{name}.__init__")
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if any(isinstance(t, ast.Name) and t.id == "__init__" for t in targets):
                return None
    bases = [b.value if isinstance(b, ast.Subscript) else b for b in node.bases]
    bases = [b for b in bases if not (isinstance(b, ast.Name) and b.id in _TERMINAL_BASES)]
    if not bases:
        return _Signature(f"object.__init__ (inherited by {name})")
    if len(bases) > 1 or not isinstance(bases[0], ast.Name):
        return None
    inherited = None
    base = bases[0].id
    if _class_node(tree, base) is not None:
        inherited = _static_init(module, base, cache, depth + 1)
    else:
        target = _imported_name(tree, module, is_package, base)
        inherited = None if target is None else _static_init(*target, cache, depth + 1)
    if inherited is None:
        return None
    owner = inherited.owner.split(" (inherited")[0]
    return _Signature(f"{owner} (inherited by {name})", inherited.keywords, inherited.required,
                      inherited.positional_only, inherited.var_keyword)


@dataclass(frozen=True)
class _Static:
    """What the source of an entry point's module says about its target, read without running it."""

    kind: str  # "class" or "preset"
    qualname: str
    summary: str
    base: str | None = None  # presets
    missing: tuple[str, ...] = ()  # top-level imports of the module that are not installed
    init: _Signature | None = None  # classes: the constructor, when the sources tell


_UNREAD = object()  # _Entry.static not computed yet


@dataclass
class _Entry:
    name: str
    provider: Provider
    target: Any = None  # class or Preset once loaded
    entry_point: md.EntryPoint | None = None
    summary: str | None = None
    error: BaseException | None = None
    params_entry_point: md.EntryPoint | None = None  # from the group "<group>.params"
    params_target: type[BaseModel] | None = None  # the declared Params once loaded
    static: Any = _UNREAD  # _Static | None once read
    override: bool = False  # declared in the overrides group


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


def _import_string(ref: str) -> Any:
    """The object named by ``"package.module:Attr"`` (``Attr`` may be dotted)."""
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj


def _module_file(module: str) -> str | None:
    """The file of ``module``, found without importing it (nor its parent packages)."""
    path = getattr(sys.modules.get(module), "__file__", None)
    if path is None:
        parts = module.split(".")
        try:
            spec = importlib.util.find_spec(parts[0])  # top level: imports nothing
            for i in range(1, len(parts)):
                if spec is None or not spec.submodule_search_locations:
                    return None
                name = ".".join(parts[: i + 1])
                loaded = sys.modules.get(name)
                spec = loaded.__spec__ if loaded is not None else importlib.machinery.PathFinder.find_spec(
                    name, list(spec.submodule_search_locations)
                )
        except (ImportError, ValueError, AttributeError):
            return None
        path = spec.origin if spec is not None else None
    return str(path) if path and str(path).endswith(".py") else None


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def _module_source(module: str) -> str | None:
    """The source text of ``module`` found without importing it (nor its parent packages)."""
    path = _module_file(module)
    return _read_text(path) if path else None


def _missing_imports(tree: ast.Module) -> tuple[str, ...]:
    """Top-level packages imported unconditionally at module level that are not installed."""
    tops: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            tops += [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.append(node.module.split(".")[0])
    missing = []
    for top in dict.fromkeys(tops):
        if top == "__future__" or top in sys.modules:
            continue
        try:
            if importlib.util.find_spec(top) is None:
                missing.append(top)
        except (ImportError, ValueError):
            pass
    return tuple(missing)


def _preset_call(value: ast.expr) -> tuple[str, str] | None:
    """(base, summary) of a ``Preset(base, params, summary)`` call with literal arguments."""
    if not isinstance(value, ast.Call):
        return None
    func = value.func
    if (func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)) != "Preset":
        return None
    try:
        args = [ast.literal_eval(a) for a in value.args]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in value.keywords}
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    bound = dict(zip(("base", "params", "summary"), args)) | kwargs
    if not isinstance(bound.get("base"), str) or not isinstance(bound.get("summary", ""), str):
        return None
    return bound["base"], bound.get("summary", "")


def _read_static(ep: md.EntryPoint) -> _Static | None:
    """What the module source says about ``ep``'s target: a class defined there (its docstring)
    or a ``Preset(...)`` with literal arguments. None when the source cannot tell (not found, not
    Python source, the name bound in another way): callers then import the module."""
    module, _, attr = ep.value.partition(":")
    attr = attr.strip()
    source = _module_source(module.strip()) if attr.isidentifier() else None
    if source is None:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    found: _Static | None = None
    for node in tree.body:  # the last top-level binding of the name wins, as when the module runs
        if isinstance(node, ast.ClassDef) and node.name == attr:
            found = _Static("class", attr, _first_line(ast.get_docstring(node)))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == attr for t in targets):
                preset = _preset_call(node.value) if node.value is not None else None
                found = None if preset is None else _Static("preset", attr, preset[1], base=preset[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == attr:
            found = None
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and any(
            (a.asname or a.name.split(".")[0]) == attr for a in node.names
        ):
            found = None
    if found is not None:
        init = _static_init(module.strip(), attr) if found.kind == "class" else None
        found = _Static(found.kind, found.qualname, found.summary, found.base, _missing_imports(tree), init)
    return found


_EP_CACHE: Any = None  # md.entry_points() of every group, read once


def _entry_points(group: str) -> list[md.EntryPoint]:
    """The entry points of ``group``; the installed metadata is scanned once for all groups and
    shared by every registry until a ``reset_discovery``."""
    global _EP_CACHE
    if _EP_CACHE is None:
        _EP_CACHE = md.entry_points()  # EntryPoints (3.12+) or SelectableGroups (3.10, 3.11)
    return list(_EP_CACHE.select(group=group))


def _autoload_disabled() -> bool:
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class Registry:
    """Named implementations of one interface.

    Args:
        slot: the slot's plural name as used on the CLI, e.g. ``"projectors"``.
        interface: the abstract base every implementation must subclass, or its import string
            ``"package.module:Class"``, imported only when a class must be checked against it.
        group: the entry-point group scanned for third-party implementations.
        contract: one paragraph describing what the slot holds (shown by ``describe``).
        params_group: the entry-point group declaring implementations' ``Params`` models
            (default ``"<group>.params"``).
        runtime: the arguments every build passes to the constructor besides the params, in
            order; ``None`` (the default) declares none and checks none: ``build`` then passes
            whatever it is given. ``()`` declares that builds pass nothing else.
        overrides_group: the entry-point group whose entries may replace a built-in of the same
            name (default ``"<group>.overrides"``).
    """

    def __init__(
        self,
        slot: str,
        interface: type | str,
        group: str,
        contract: str = "",
        params_group: str | None = None,
        runtime: Sequence[RuntimeArgument] | None = None,
        overrides_group: str | None = None,
    ):
        self.slot = slot
        self._interface = interface
        self.group = group
        self.params_group = params_group or f"{group}.params"
        self.overrides_group = overrides_group or f"{group}.overrides"
        self._contract = contract
        self.runtime: tuple[RuntimeArgument, ...] | None = None if runtime is None else tuple(runtime)
        self._entries: dict[str, _Entry] = {}
        self._conflicts: dict[str, list[Provider]] = {}
        self._shadowed: list[Shadowing] = []
        self._signatures: dict[type, _Signature | None] = {}
        self._discovered = False

    @property
    def constructed_as(self) -> str:
        """How every implementation is constructed, e.g. ``cls(n_items=..., **params)``."""
        args = [f"{a.name}=..." for a in self.runtime or ()]
        return f"cls({', '.join([*args, '**params'])})"

    @property
    def interface(self) -> type:
        """The slot's interface class (imported on first use when given as a string)."""
        if isinstance(self._interface, str):
            self._interface = _import_string(self._interface)
        return self._interface

    @property
    def interface_name(self) -> str:
        """``module.Class`` of the interface, without importing it."""
        if isinstance(self._interface, str):
            return self._interface.replace(":", ".")
        return f"{self._interface.__module__}.{self._interface.__qualname__}"

    @property
    def contract(self) -> str:
        return self._contract or _first_line(self.interface.__doc__)

    @contract.setter
    def contract(self, value: str) -> None:
        self._contract = value

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

        Raises ComponentInterfaceError when ``obj`` does not implement the slot's interface (or
        its constructor does not accept the slot's runtime arguments and its params) and
        DuplicateComponentError when ``name`` is taken (unless ``override=True``).
        """

        def _do(target: type) -> type:
            self._check_interface(name, target)
            provider = _provider_of(target.__module__, target.__qualname__)
            self._check_signature(name, target, provider)
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

    def _signature_of(self, target: type) -> _Signature | None:
        if target not in self._signatures:
            self._signatures[target] = _class_signature(target)
        return self._signatures[target]

    def signature_problems(self, signature: _Signature, fields: Iterable[str] | None) -> list[str]:
        """Why a constructor with ``signature`` cannot be built by this slot (empty when it
        can). ``fields``: the names of its Params' fields, None when not known (listings)."""
        runtime = self.runtime or ()
        names = {a.name for a in runtime}
        problems = [
            f"it does not accept the runtime argument {a.name!r} ({a.description})"
            for a in runtime if a.required and not signature.accepts(a.name)
        ]
        if signature.positional_only:
            problems.append(
                f"it requires the positional-only argument(s) {', '.join(map(repr, signature.positional_only))}, "
                f"but llara passes every argument by keyword"
            )
        if fields is not None:
            fields = list(fields)
            clash = [f for f in fields if f in names]
            if clash:
                problems.append(f"its Params declares {', '.join(map(repr, clash))}, which the slot passes "
                                f"as a runtime argument; rename the field")
            problems += [
                f"it does not accept {f!r}, a field of its Params (every field is passed by keyword)"
                for f in fields if f not in names and not signature.accepts(f)
            ]
            if self.runtime is not None:
                never = sorted(signature.required - names - set(fields))
                if never:
                    problems.append(
                        f"it requires {', '.join(map(repr, never))}, which llara never passes (neither "
                        f"a runtime argument of the slot nor a field of its Params)"
                    )
        return problems

    def _signature_error(self, name: str, provider: Provider, signature: _Signature, problems: list[str]) -> _SignatureError:
        return _SignatureError(
            f"{self.slot}: {name!r} from distribution {provider.distribution} ({provider.origin}): "
            f"{signature.owner} does not fit how llara builds {self.slot}, {self.constructed_as}: "
            + "; ".join(problems)
        )

    def _check_signature(self, name: str, target: Any, provider: Provider) -> None:
        """Raise ComponentInterfaceError when ``target``'s constructor cannot take this slot's
        runtime arguments and its Params' fields (what ``build`` passes)."""
        if isinstance(target, Preset):
            return
        signature = self._signature_of(target)
        if signature is None:
            return
        fields = getattr(target, "Params", NoParams).model_fields
        problems = self.signature_problems(signature, fields)
        if problems:
            raise self._signature_error(name, provider, signature, problems)

    def check(self, name: str) -> None:
        """Raise what building ``name`` would raise because of how it is declared (its import,
        interface, Params, constructor signature), importing no more than validating its params
        does: an implementation not imported yet is checked on its source. Used by config
        validation, so that a plugin that does not fit its slot fails there, not in training."""
        model, _, final = self._resolve_params(name)
        if final.target is not None or final.error is not None:
            return  # loaded (and checked on load), or failing with its own error
        static = self._static(final)
        if static is None or static.kind != "class" or static.init is None:
            return  # the sources cannot tell: checked when it is imported
        problems = self.signature_problems(static.init, model.model_fields)
        if problems:
            raise self._signature_error(final.name, final.provider, static.init, problems)

    def _runtime_for(self, name: str, impl: type, runtime: dict[str, Any]) -> dict[str, Any]:
        """The runtime arguments to pass to ``impl``: checked against the slot's declaration,
        optional ones kept only where the constructor accepts them."""
        if self.runtime is None:
            return runtime
        declared = {a.name: a for a in self.runtime}
        signature = self._signature_of(impl)
        unknown = sorted(set(runtime) - set(declared))
        missing = [a.name for a in self.runtime if a.name not in runtime and (
            a.required or (signature is not None and a.name in signature.required))]
        if unknown or missing:
            parts = []
            if missing:
                parts.append(f"missing the runtime argument(s) {', '.join(map(repr, missing))}")
            if unknown:
                parts.append(f"got {', '.join(map(repr, unknown))}, which the slot does not declare "
                             f"(a setting a user chooses belongs in params)")
            raise BuildArgumentError(f"{self.slot}: build({name!r}): {'; '.join(parts)}; the slot "
                                     f"builds {self.constructed_as}")
        for key, value in runtime.items():
            check = declared[key].check
            problem = check(value) if check is not None else None
            if problem:
                from llara_core.errors import UsageError

                raise UsageError(f"{self.slot}: build({name!r}): runtime argument {key} ({declared[key].description}) {problem}")
        return {k: v for k, v in runtime.items()
                if declared[k].required or signature is None or signature.accepts(k)}

    def shadowed(self) -> list[Shadowing]:
        """Entry points that lost their name: a third-party one to llara's built-in of the same
        name (the default), or the built-in to an explicit override (declared in
        ``overrides_group``)."""
        self._discover()
        return list(self._shadowed)

    # ------------------------------------------------------------------ discovery
    def _discover(self) -> None:
        """Record (without importing) every entry point of this slot's groups. Idempotent."""
        if self._discovered:
            return
        self._discovered = True
        disabled = _autoload_disabled()
        found: dict[str, list[_Entry]] = {}
        seen: dict[tuple[str, str, str], _Entry] = {}
        for group, override in ((self.group, False), (self.overrides_group, True)):
            for ep in _entry_points(group):
                dist = ep.dist.name if ep.dist is not None else "<unknown distribution>"
                version = ep.dist.version if ep.dist is not None else None
                if disabled and dist != BUILTIN_DISTRIBUTION:
                    continue
                key = (ep.name, dist, ep.value)
                if key in seen:  # the same distribution seen twice on sys.path, or in both groups
                    seen[key].override = seen[key].override or override
                    continue
                entry = _Entry(ep.name, Provider(dist, version, ep.value), entry_point=ep, override=override)
                seen[key] = entry
                found.setdefault(ep.name, []).append(entry)
        for name, entries in found.items():
            old = self._entries.get(name)
            if old is not None and old.entry_point is None:
                continue  # a code registration kept by reset_discovery (possibly override=True) wins
            builtins = [e for e in entries if e.provider.distribution == BUILTIN_DISTRIBUTION]
            overrides = [e for e in entries if e.override and e.provider.distribution != BUILTIN_DISTRIBUTION]
            others = [e for e in entries if not e.override and e.provider.distribution != BUILTIN_DISTRIBUTION]
            if len(overrides) > 1 or (not overrides and not builtins and len(others) > 1):
                self._conflicts[name] = [e.provider for e in (overrides if len(overrides) > 1 else others)]
                self._entries[name] = (overrides or others)[0]
                continue
            if overrides:
                winner, losers = overrides[0], builtins + others
            elif builtins:
                winner, losers = builtins[0], builtins[1:] + others
            else:
                winner, losers = others[0], []
            self._entries[name] = winner
            for loser in losers:
                if loser.provider.distribution == BUILTIN_DISTRIBUTION and winner.provider.distribution == BUILTIN_DISTRIBUTION:
                    continue
                self._shadowed.append(Shadowing(
                    self.slot, name, winner.provider, loser.provider,
                    explicit=winner.override and loser.provider.distribution == BUILTIN_DISTRIBUTION,
                    overrides_group=self.overrides_group,
                ))
        # a params entry point counts only for the same name from the same distribution
        for ep in _entry_points(self.params_group):
            entry = self._entries.get(ep.name)
            dist = ep.dist.name if ep.dist is not None else None
            if (entry is not None and entry.entry_point is not None and entry.params_entry_point is None
                    and entry.provider.distribution == dist):
                entry.params_entry_point = ep

    def _lookup(self, name: str) -> _Entry:
        """The entry of ``name`` without loading anything; errors for unknown or ambiguous names."""
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
        return entry

    def _load(self, name: str) -> _Entry:
        entry = self._lookup(name)
        if entry.target is None:
            if entry.error is None:
                try:
                    target = entry.entry_point.load()
                    self._check_interface(name, target)
                except Exception as exc:  # a broken plugin fails only when selected
                    entry.error = exc
                else:
                    entry.error = self._params_mismatch(entry, target)
                    if entry.error is None:
                        try:
                            self._check_signature(name, target, entry.provider)
                        except _SignatureError as exc:
                            entry.error = exc
                    if entry.error is None:
                        entry.target = target
            if isinstance(entry.error, (_ParamsMismatchError, _SignatureError)):
                raise entry.error
            if entry.error is not None:
                raise PluginLoadError(
                    f"{self.slot}: {name!r} from distribution {entry.provider.distribution} "
                    f"(entry point {entry.provider.origin}) failed to load: "
                    f"{type(entry.error).__name__}: {entry.error}"
                ) from entry.error
        return entry

    def _params_mismatch(self, entry: _Entry, target: Any) -> _ParamsMismatchError | None:
        """The error to raise when a loaded class's Params is not the one its params entry point declares."""
        if entry.params_entry_point is None or isinstance(target, Preset):
            return None
        declared = self._declared_params(entry)
        actual = getattr(target, "Params", NoParams)
        if actual is declared:
            return None
        return _ParamsMismatchError(
            f"{self.slot}: {entry.name!r} from distribution {entry.provider.distribution}: "
            f"{_qualified(target)}.Params is {_qualified(actual)}, but its params entry point "
            f"({self.params_group}: {entry.name} = {entry.params_entry_point.value}) declares "
            f"{_qualified(declared)}; they must be the same class (set `Params = "
            f"{declared.__qualname__}` imported from {declared.__module__}, or fix the entry point)"
        )

    def _declared_params(self, entry: _Entry) -> type[BaseModel]:
        """The Params model named by ``entry``'s params entry point (imports only its module)."""
        if entry.params_target is None:
            ep = entry.params_entry_point
            try:
                model = ep.load()
            except Exception as exc:
                raise PluginLoadError(
                    f"{self.slot}: {entry.name!r} from distribution {entry.provider.distribution} "
                    f"(params entry point {ep.value} in {self.params_group}) failed to load: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if not (inspect.isclass(model) and issubclass(model, BaseModel)):
                raise ComponentInterfaceError(
                    f"{self.slot}: {entry.name!r}: the params entry point {ep.value} in "
                    f"{self.params_group} must name a pydantic BaseModel subclass, got {model!r}"
                )
            entry.params_target = model
        return entry.params_target

    def _static(self, entry: _Entry) -> _Static | None:
        if entry.static is _UNREAD:
            entry.static = _read_static(entry.entry_point) if entry.entry_point is not None else None
        return entry.static

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

    def _resolve_params(self, name: str) -> tuple[type[BaseModel], dict[str, Any], _Entry]:
        """(Params model, preset defaults, the implementation's entry) behind ``name``.

        An implementation not loaded yet whose distribution declares a params entry point is not
        imported: its declared Params is used (checked against the class when it is loaded).
        """
        chain: list[str] = []
        defaults: dict[str, Any] = {}
        while True:
            if name in chain:
                raise DuplicateComponentError(f"{self.slot}: presets form a cycle: {chain + [name]}")
            chain.append(name)
            entry = self._lookup(name)
            if entry.target is None and entry.error is None and entry.params_entry_point is not None:
                return self._declared_params(entry), defaults, entry
            target = self._load(name).target
            if isinstance(target, Preset):
                defaults = {**target.params, **defaults}
                name = target.base
                continue
            return getattr(target, "Params", NoParams), defaults, entry

    def params_model(self, name: str) -> type[BaseModel]:
        """The pydantic model of ``name``'s params (from its params entry point when declared)."""
        return self._resolve_params(name)[0]

    def validate_params(self, name: str, params: Mapping[str, Any] | None = None) -> BaseModel:
        """Preset defaults merged with ``params``, validated by the implementation's Params model.

        Uses the params entry point when the implementation is not imported yet (see
        :meth:`params_model`). Raises pydantic.ValidationError on bad params.
        """
        model, defaults, _ = self._resolve_params(name)
        return model.model_validate({**defaults, **dict(params or {})})

    def build(self, name: str, params: Mapping[str, Any] | BaseModel | None = None, **runtime: Any) -> Any:
        """Instantiate ``name`` with validated ``params`` plus runtime dependencies.

        Runtime dependencies are things the user never types (an input size, a catalogue);
        params come from config. The implementation receives both as keyword arguments: every
        field of the validated params, and the slot's declared runtime arguments (an optional
        one only where the constructor accepts it; an undeclared or missing required one raises
        BuildArgumentError). The validated params are then handed to the instance
        (``_set_build_params``, defined by every slot interface), which is what its
        ``hyperparameters()`` returns.
        """
        impl, _ = self.resolve(name)
        if not isinstance(params, BaseModel):
            params = self.validate_params(name, params)
        kwargs = {key: getattr(params, key) for key in type(params).model_fields}
        obj = impl(**kwargs, **self._runtime_for(name, impl, runtime))
        bind = getattr(obj, "_set_build_params", None)
        if callable(bind):
            bind(params)
        return obj

    def provider(self, name: str) -> Provider:
        self._discover()
        if name not in self._entries:
            raise UnknownComponentError(self.unknown_message(name))
        return self._entries[name].provider

    def describe(self, name: str) -> dict[str, Any]:
        """Implementation, providing distribution and version, summary and params JSON schema.

        Imports nothing heavy when the implementation declares a params entry point and is a
        class defined in its entry point's module (its name and docstring read from source).
        """
        model, defaults, final = self._resolve_params(name)
        entry = self._lookup(name)
        preset = entry.target if isinstance(entry.target, Preset) else None
        impl = final.target
        static = self._static(final) if impl is None else None
        if impl is None and (static is None or static.kind != "class"):
            impl = self._load(final.name).target
        if impl is not None:
            implementation, doc = f"{impl.__module__}.{impl.__qualname__}", _first_line(impl.__doc__)
        else:
            module = final.entry_point.value.partition(":")[0].strip()
            implementation, doc = f"{module}.{static.qualname}", static.summary
        summary = entry.summary or (preset.summary if preset is not None else "") or doc
        return {
            "slot": self.slot,
            "name": name,
            "implementation": implementation,
            "preset_of": preset.base if preset is not None else None,
            "preset_params": defaults,
            "distribution": entry.provider.distribution,
            "version": entry.provider.version,
            "summary": summary,
            "constructed_as": self.constructed_as,
            "runtime_arguments": {a.name: a.description for a in self.runtime or ()},
            "params_schema": model.model_json_schema(),
        }

    def brief(self, name: str) -> dict[str, Any]:
        """Name, distribution, version, summary and ``preset_of`` of ``name``, for listings.

        Nothing is imported when the entry point's module source tells (a class defined there:
        its docstring's first line; a ``Preset(...)`` with literal arguments; a preset without a
        summary takes its base's); otherwise this loads the entry like :meth:`describe`. Raises
        LlaraError for a plugin that cannot load, including one whose module imports, at top
        level, a package that is not installed.
        """
        return self._brief(name, ())

    def _brief(self, name: str, seen: tuple[str, ...]) -> dict[str, Any]:
        entry = self._lookup(name)
        static = self._static(entry) if entry.target is None and entry.error is None else None
        if static is None:
            info = self.describe(name)
            return {k: info[k] for k in ("name", "distribution", "version", "summary", "preset_of")}
        if static.missing:
            raise PluginLoadError(
                f"{self.slot}: {name!r} from distribution {entry.provider.distribution} (entry point "
                f"{entry.provider.origin}): its module imports {', '.join(map(repr, static.missing))}, "
                f"which is not installed"
            )
        if static.kind == "class" and static.init is not None:
            problems = self.signature_problems(static.init, None)
            if problems:
                raise self._signature_error(name, entry.provider, static.init, problems)
        summary, preset_of = entry.summary or static.summary, None
        if static.kind == "preset":
            preset_of = static.base
            if not summary and static.base not in seen and static.base in self:
                try:
                    summary = self._brief(static.base, (*seen, name))["summary"]
                except LlaraError:
                    summary = ""
        return {
            "name": name,
            "distribution": entry.provider.distribution,
            "version": entry.provider.version,
            "summary": summary,
            "preset_of": preset_of,
        }

    def reset_discovery(self) -> None:
        """Forget entry points (keeps code registrations) so the next query rescans them."""
        global _EP_CACHE
        _EP_CACHE = None
        self._entries = {k: e for k, e in self._entries.items() if e.entry_point is None}
        self._conflicts.clear()
        self._shadowed.clear()
        self._signatures.clear()
        self._discovered = False


class _ParamsMismatchError(ComponentInterfaceError):
    """A class whose ``Params`` is not the model its params entry point declares."""


class _SignatureError(ComponentInterfaceError):
    """A class whose constructor does not accept what its slot passes at build time."""


def _qualified(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"
