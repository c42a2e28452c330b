"""Exceptions raised by llara. Every message names the field, file or component at fault."""

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
    """Something registered in a slot does not implement the slot's interface."""


class PluginLoadError(LlaraError, ImportError):
    """An entry point could not be imported; the message names its distribution."""


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
