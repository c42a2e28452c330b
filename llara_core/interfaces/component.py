"""What every component of every slot shares: its ``Params`` model and its hyper-parameters.

Each slot's interface (``ItemEncoder``, ``Projector``, ``PromptBuilder``,
``CurriculumScheduler``, ``BackboneLoader``) derives from :class:`Component`. A plugin never
calls anything here and never sets a private attribute: :meth:`Component.hyperparameters` is
filled in by ``Registry.build`` with the params it validated, and for an instance constructed
directly (``SASRec(n_items=100, dim=32)``) it is read from the arguments the constructor was
called with (recorded by ``Component.__new__``). Imports no torch.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from llara_core.errors import ComponentInterfaceError
from llara_core.registry import NoParams

#: instance attributes owned by llara (set in ``__dict__`` directly: safe on ``nn.Module``)
_BUILD_PARAMS = "_llara_build_params"
_INIT_ARGUMENTS = "_llara_init_arguments"

_SIGNATURES: weakref.WeakKeyDictionary[type, inspect.Signature | None] = weakref.WeakKeyDictionary()


def _init_signature(cls: type) -> inspect.Signature | None:
    if cls not in _SIGNATURES:
        try:
            _SIGNATURES[cls] = inspect.signature(cls.__init__)
        except (TypeError, ValueError):
            _SIGNATURES[cls] = None
    return _SIGNATURES[cls]


class Component:
    """Base of every slot interface.

    ``Params``: the pydantic model (``extra="forbid"``) of what a user may write under
    ``params:`` in a config; llara validates it and passes every field to the constructor by
    keyword, together with the slot's runtime arguments.

    Two optional class attributes are read by the conformance kit (:mod:`llara_core.testing`)
    only: ``expensive_to_check``, True when building or loading the component takes seconds or
    more (a real LLM), so that the kit skips it unless asked to include expensive checks; and
    ``check_params``, the params the kit builds it with when it is given none (for a component
    whose ``Params`` has a required field).
    """

    Params: ClassVar[type[BaseModel]] = NoParams
    expensive_to_check: ClassVar[bool] = False
    check_params: ClassVar[Mapping[str, Any] | None] = None

    def __new__(cls, *args: Any, **kwargs: Any):
        self = super().__new__(cls)
        # Record the constructor's arguments (defaults applied) for hyperparameters() of an
        # instance that was not built by a registry. Arguments that do not bind are left to
        # __init__ to refuse; copies (pickle, deepcopy) call __new__ without arguments and then
        # restore __dict__, this record included.
        signature = _init_signature(cls)
        if signature is not None:
            try:
                bound = signature.bind(None, *args, **kwargs)
            except TypeError:
                return self
            bound.apply_defaults()
            values: dict[str, Any] = {}
            for i, (key, value) in enumerate(bound.arguments.items()):
                kind = signature.parameters[key].kind
                if i == 0 or kind is inspect.Parameter.VAR_POSITIONAL:
                    continue
                if kind is inspect.Parameter.VAR_KEYWORD:
                    values.update(value)
                else:
                    values[key] = value
            self.__dict__[_INIT_ARGUMENTS] = values
        return self

    def _set_build_params(self, params: BaseModel) -> None:
        """Called by ``Registry.build`` right after construction with the validated params."""
        self.__dict__[_BUILD_PARAMS] = params

    def _built_params(self) -> BaseModel:
        """The validated params this instance stands for (see :meth:`hyperparameters`)."""
        params = self.__dict__.get(_BUILD_PARAMS)
        if params is not None:
            return params
        model = type(self).Params
        recorded = self.__dict__.get(_INIT_ARGUMENTS) or {}
        values = {}
        for field in model.model_fields:
            if field in recorded:
                values[field] = recorded[field]
            elif field in self.__dict__:  # a plain attribute (nn.Module keeps submodules elsewhere)
                values[field] = self.__dict__[field]
        try:
            params = model.model_validate(values)
        except ValidationError as exc:
            raise ComponentInterfaceError(
                f"{type(self).__qualname__}: the arguments it was constructed with do not validate "
                f"against its Params {model.__qualname__}: {exc}"
            ) from exc
        self.__dict__[_BUILD_PARAMS] = params
        return params

    def hyperparameters(self) -> dict[str, Any]:
        """The params this component stands for, JSON-ready: every field of ``Params``, none of
        the runtime arguments.

        Built by ``Registry.build`` from the params it validated (preset defaults included); for
        an instance constructed directly, from the constructor's arguments (defaults applied)
        validated by ``Params``. Rebuilding with these params gives an equivalent component
        (this is what item encoder checkpoints store)."""
        return self._built_params().model_dump(mode="json")
