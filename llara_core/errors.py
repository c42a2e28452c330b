"""Exceptions raised by llara. Every message names the field, file or component at fault.

Every mistake a user can make (a config, a command-line value, a data file, a plugin that does
not fit its slot) raises a :class:`LlaraError` subclass; the command line prints those as one
line without a traceback (``llara --debug ...`` shows it). Each subclass also derives from the
built-in exception a caller would expect (``KeyError``, ``TypeError``, ``ImportError``,
``ValueError``), so ``except ValueError`` keeps working where it did.
"""

from __future__ import annotations


class LlaraError(Exception):
    """Base class of every error llara raises on purpose (the CLI prints these without a traceback)."""


class UnknownComponentError(LlaraError, KeyError):
    """A component name that no registry entry or entry point provides."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateComponentError(LlaraError):
    """Two providers registered the same name in one slot."""


class ComponentInterfaceError(LlaraError, TypeError):
    """Something registered in a slot does not implement the slot's interface (a missing method,
    a ``Params`` that is not a pydantic model, a constructor that does not accept what the slot
    passes at build time)."""


class BuildArgumentError(LlaraError, TypeError):
    """``Registry.build`` was called without a runtime argument its slot requires, or with one the
    slot does not declare (user settings belong in ``params``)."""


class PluginLoadError(LlaraError, ImportError):
    """An entry point could not be imported; the message names its distribution."""


class MissingDependencyError(LlaraError, ImportError):
    """A component needs an optional package (or file) that is not installed; the message says
    how to install it. The conformance kit skips, rather than fails, such a component."""


class ConfigError(LlaraError, ValueError):
    """A configuration with one or more errors; ``errors`` holds (path, message) pairs."""

    def __init__(self, errors: list[tuple[str, str]], source: str | None = None):
        self.errors = list(errors)
        self.source = source
        head = f"{source}: " if source else ""
        lines = [f"{head}{len(self.errors)} configuration error(s):"]
        lines += [f"  {path or '<root>'}: {msg}" for path, msg in self.errors]
        super().__init__("\n".join(lines))


class DataError(LlaraError, ValueError):
    """Bad input data; the message names the file, the row and what was expected."""


class UsageError(LlaraError, ValueError):
    """A value given in code or on the command line that cannot work where it is used (outside a
    config file, which raises :class:`ConfigError`): an argument out of range, an input of the
    wrong shape, a model asked for something it was not built for."""


class ConformanceError(LlaraError, AssertionError):
    """A component fails a check of the conformance kit (:mod:`llara_core.testing`); the message
    names the slot, the component, its distribution and the check."""


class OutOfMemoryError(LlaraError, MemoryError):
    """The device ran out of memory; the message says what to lower."""


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (torch's CUDA/MPS ``OutOfMemoryError``, a CPU
    allocator failure, a ``MemoryError``), recognised without importing torch."""
    if isinstance(exc, OutOfMemoryError):
        return False  # already explained
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return any(s in text for s in ("out of memory", "can't allocate memory", "not enough memory", "failed to allocate"))
    return False
