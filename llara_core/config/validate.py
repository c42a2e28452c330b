"""Validate a whole experiment config at once, load YAML, apply overrides, resolve components.

``validate_config`` collects the schema errors of pydantic *and* the errors of every selected
component (unknown names with the closest known one, params rejected by the component's own
``Params`` model, constructors that do not accept what their slot passes at build time, missing
folders) and raises one :class:`ConfigError` listing them all, before anything heavy is loaded.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from llara_core.config.schema import ExperimentConfig
from llara_core.errors import ConfigError, LlaraError, UnknownComponentError
from llara_core.slots import SLOTS

#: config section -> slot name
COMPONENT_SECTIONS: dict[str, str] = {
    "item_encoder": "item_encoders",
    "projector": "projectors",
    "prompt_builder": "prompt_builders",
    "curriculum": "curriculum_schedulers",
    "backbone": "backbones",
}
ITEM_ENCODER_CONFIG = "config.json"
ITEM_ENCODER_WEIGHTS = "model.safetensors"  # llara_core.sr.checkpoint.WEIGHTS (that module imports torch)


def _path(loc: Sequence[Any]) -> str:
    return ".".join(str(p) for p in loc)


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (for misspelt-key suggestions)."""
    for key in loc:
        field = model.model_fields.get(str(key))
        if field is None:
            return None
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nxt is None:
            return None
        model = nxt
    return model


def _closest_key(key: str, allowed: list[str]) -> list[str]:
    """The allowed key the user most likely meant: one the typed key starts with or that starts
    with it (``lrate`` -> ``lr``), else the closest spelling."""
    prefixes = [a for a in allowed if len(a) >= 2 and (key.startswith(a) or a.startswith(key))]
    if prefixes:
        return [max(prefixes, key=len)]
    return difflib.get_close_matches(key, allowed, n=1)


def _yaml_problem(exc: Exception) -> str:
    """One line for a YAML syntax error: what, where, and what it was inside."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None)
    if not problem:
        return " ".join(str(exc).split())
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context, cmark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    inside = f" ({context} started at line {cmark.line + 1}, column {cmark.column + 1})" if context and cmark is not None else ""
    return f"{problem}{where}{inside}"


def _pydantic_errors(exc: ValidationError, prefix: str, model: type[BaseModel] | None) -> list[tuple[str, str]]:
    out = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not str(p).startswith("function-")]
        msg = err["msg"]
        if err["type"] == "extra_forbidden" and model is not None and loc:
            owner = _model_at(model, loc[:-1])
            if owner is not None:
                close = _closest_key(str(loc[-1]), list(owner.model_fields))
                msg = "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
                msg += f" (allowed: {', '.join(owner.model_fields)})"
        elif err["type"] == "missing":
            msg = "required field is missing"
        if "input" in err and err["type"] not in ("missing", "extra_forbidden") and not isinstance(err["input"], (dict, list)):
            msg += f" (got {err['input']!r})"
        out.append((_path([prefix, *loc] if prefix else loc), msg))
    return out


def read_item_encoder_checkpoint(folder: Path) -> dict[str, Any]:
    """The JSON config of a trained item encoder folder; LlaraError when absent or unreadable."""
    cfg = Path(folder) / ITEM_ENCODER_CONFIG
    if not cfg.is_file():
        raise LlaraError(f"{cfg}: not found (expected a folder written by `llara sr train`)")
    try:
        return json.loads(cfg.read_text())
    except json.JSONDecodeError as exc:
        raise LlaraError(f"{cfg}: not valid JSON ({exc})") from exc


def _component(section: str, raw: Any, check_paths: bool = True) -> tuple[str | None, dict[str, Any], list[tuple[str, str]]]:
    """(name, params, errors) of one component section of the raw mapping.

    An item encoder given by checkpoint takes its name and params from the checkpoint folder;
    without ``check_paths`` a missing folder falls back to the section's own name (if any).
    """
    if isinstance(raw, str):
        return raw, {}, []
    if not isinstance(raw, Mapping):
        return None, {}, []  # pydantic reports the type error
    name, params = raw.get("name"), raw.get("params") or {}
    errors: list[tuple[str, str]] = []
    if section == "item_encoder" and raw.get("checkpoint") and (check_paths or Path(raw["checkpoint"]).exists()):
        try:
            saved = read_item_encoder_checkpoint(Path(raw["checkpoint"]))
        except LlaraError as exc:
            return None, {}, [("item_encoder.checkpoint", str(exc))]
        if name is not None and name != saved.get("component"):
            errors.append(("item_encoder.name", f"{name!r} does not match the checkpoint's {saved.get('component')!r}"))
        name, params = saved.get("component"), {**saved.get("params", {}), **params}
    if not isinstance(name, str) or not isinstance(params, Mapping):
        return None, {}, errors
    return name, dict(params), errors


def validate_components(raw: Mapping[str, Any], check_paths: bool = True) -> list[tuple[str, str]]:
    """Errors of every component section of a raw config mapping (empty when all are valid)."""
    errors: list[tuple[str, str]] = []
    defaults = {name: f.default_factory().name for name, f in ExperimentConfig.model_fields.items()
                if name in COMPONENT_SECTIONS and f.default_factory is not None}
    for section, slot in COMPONENT_SECTIONS.items():
        if section not in raw and section not in defaults:
            continue
        name, params, errs = _component(section, raw.get(section, defaults.get(section)), check_paths)
        errors += errs
        if name is None:
            continue
        registry = SLOTS[slot]
        try:
            registry.validate_params(name, params)
        except UnknownComponentError as exc:
            errors.append((f"{section}.name", str(exc)))
            continue
        except ValidationError as exc:
            model = None
            try:
                model = registry.params_model(name)
            except LlaraError:
                pass
            errors += _pydantic_errors(exc, f"{section}.params", model)
        except LlaraError as exc:  # plugin fails to import, duplicate providers
            errors.append((f"{section}.name", str(exc)))
            continue
        try:  # a constructor that cannot take what the slot passes: here, not in `llara train`
            registry.check(name)
        except LlaraError as exc:
            errors.append((f"{section}.name", str(exc)))
    return errors


def validate_paths(cfg: ExperimentConfig) -> list[tuple[str, str]]:
    """Every path of the config resolved and checked (never executed, never imported): the
    dataset folder, the item encoder folder, the run folder."""
    errors = []
    data = cfg.data.path
    manifest = data / "manifest.json"
    if data.exists() and not data.is_dir():
        errors.append(("data.path", f"{data} (resolved: {data.resolve()}) is a file; expected a dataset folder written by `llara data ...`"))
    elif not manifest.is_file():
        errors.append(("data.path", f"{data}: no manifest.json (resolved: {data.resolve()}; expected a dataset folder "
                       "written by `llara data ...`)"))
    ckpt = cfg.item_encoder.checkpoint
    if ckpt is not None:
        # a missing folder or config.json is reported with the component (see _component)
        if (ckpt / ITEM_ENCODER_CONFIG).is_file() and not (ckpt / ITEM_ENCODER_WEIGHTS).is_file():
            errors.append(("item_encoder.checkpoint", f"{ckpt / ITEM_ENCODER_WEIGHTS}: not found (expected the weights of a folder written by `llara sr train`)"))
    out = cfg.training.out_dir
    if out.exists() and not out.is_dir():
        errors.append(("training.out_dir", f"{out} is a file; expected a run folder"))
    return errors


def validate_config(raw: Mapping[str, Any] | ExperimentConfig, source: str | None = None, check_paths: bool = True) -> ExperimentConfig:
    """The validated config, or a ConfigError that lists every error with its path.

    With ``check_paths`` (the default, and always before training) the dataset folder and the
    item encoder checkpoint must exist; without it only the config itself is checked.
    """
    if isinstance(raw, ExperimentConfig):
        raw = raw.model_dump(mode="json", exclude_unset=False)
    if not isinstance(raw, Mapping):
        raise ConfigError([("", f"expected a mapping of sections, got {type(raw).__name__}")], source)
    errors: list[tuple[str, str]] = []
    cfg = None
    try:
        cfg = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        errors += _pydantic_errors(exc, "", ExperimentConfig)
    errors += validate_components(raw, check_paths)
    if cfg is not None and check_paths:
        errors += validate_paths(cfg)
    if errors:
        raise ConfigError(sorted(set(errors), key=errors.index), source)
    return cfg


def _default_component(section: str) -> dict[str, Any] | None:
    field = ExperimentConfig.model_fields.get(section)
    if section in COMPONENT_SECTIONS and field is not None and field.default_factory is not None:
        return {"name": field.default_factory().name}
    return None


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a raw mapping, in place."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError([(item, "override must look like section.key=value")])
        key, value = item.split("=", 1)
        node = raw
        parts = key.strip().split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if nxt is None and node is raw:  # an absent component section keeps its default name
                nxt = _default_component(part)
            if isinstance(nxt, str):  # bare component name -> expand to a mapping
                nxt = {"name": nxt}
            if not isinstance(nxt, dict):
                nxt = {}
            node[part] = nxt
            node = nxt
        node[parts[-1]] = yaml.safe_load(value)
    return raw


def load_raw(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError([("", "file not found")], str(path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError([("", f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                                "expected a YAML file")], str(path)) from None
    except yaml.YAMLError as exc:
        raise ConfigError([("", f"not valid YAML: {_yaml_problem(exc)}")], str(path)) from None
    if raw is None:
        raise ConfigError([("", "the file is empty; expected a mapping of sections (data, item_encoder, backbone, "
                                "training, ...), e.g. examples/configs/quickstart.yaml")], str(path))
    if not isinstance(raw, dict):
        raise ConfigError([("", f"expected a mapping of sections at the top level, got {type(raw).__name__}")], str(path))
    return raw


def load_config(path: str | Path, overrides: Sequence[str] = (), check_paths: bool = True) -> ExperimentConfig:
    """Read a YAML config, apply overrides and validate it whole. Relative paths in the config
    are resolved against the current directory (as the CLI user types them)."""
    raw = apply_overrides(load_raw(path), overrides)
    return validate_config(raw, source=str(path), check_paths=check_paths)


def resolved_config(cfg: ExperimentConfig) -> dict[str, Any]:
    """The config as JSON-ready data, each component with its full params, implementation,
    distribution and version (written next to every run's outputs)."""
    out = cfg.model_dump(mode="json")
    for section, slot in COMPONENT_SECTIONS.items():
        name, params, _ = _component(section, out[section])
        registry = SLOTS[slot]
        info = registry.describe(name)
        full = registry.validate_params(name, params).model_dump(mode="json")
        out[section].update(
            name=name,
            params=full,
            implementation=info["implementation"],
            distribution=info["distribution"],
            version=info["version"],
        )
    return out
