"""Build a LLaRA model from a validated experiment config, and reload a finished run."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from llara_core.config import ExperimentConfig, validate_config
from llara_core.data import Dataset
from llara_core.errors import LlaraError
from llara_core.model.llara import LLaRA
from llara_core.slots import (
    BACKBONES,
    CURRICULUM_SCHEDULERS,
    ITEM_ENCODERS,
    PROJECTORS,
    PROMPT_BUILDERS,
)

CONFIG_FILE = "config.json"
RESOLVED_FILE = "config.resolved.json"


def build_item_encoder(cfg: ExperimentConfig, dataset: Dataset):
    """The frozen item encoder: from its checkpoint folder, or untrained by name (warns)."""
    section = cfg.item_encoder
    if section.checkpoint is not None:
        from llara_core.sr.checkpoint import load_item_encoder

        encoder, saved = load_item_encoder(section.checkpoint)
        encoder.llara_source = (saved, section.checkpoint)
        if encoder.n_items != dataset.n_items:
            raise LlaraError(
                f"item_encoder.checkpoint: {section.checkpoint} was trained on {encoder.n_items} items, "
                f"the dataset {cfg.data.path} has {dataset.n_items}"
            )
        if saved.get("data_hash") and dataset.content_hash and saved["data_hash"] != dataset.content_hash:
            warnings.warn(
                f"item encoder {section.checkpoint} was trained on another version of the dataset "
                f"(data hash {saved['data_hash'][:12]} vs {dataset.content_hash[:12]})",
                stacklevel=2,
            )
        return encoder
    warnings.warn(f"item_encoder {section.name!r} has no checkpoint: its embeddings are untrained", stacklevel=2)
    return ITEM_ENCODERS.build(section.name, section.params, n_items=dataset.n_items)


def build_llara(cfg: ExperimentConfig, dataset: Dataset | None = None) -> LLaRA:
    """Compose every component named in ``cfg`` (validated) into a LLaRA model on the CPU."""
    dataset = dataset if dataset is not None else Dataset.load(cfg.data.path)
    model = compose(cfg, dataset.titles, dataset.domain, build_item_encoder(cfg, dataset))
    if dataset.path is not None:
        from llara_core.data.dataset import ITEMS

        model.catalogue_source = str(Path(dataset.path) / ITEMS)
    return model


def compose(cfg: ExperimentConfig, titles: list[str], domain: str, encoder: Any, backbone: Any = None) -> LLaRA:
    """The LLaRA model of ``cfg`` over the catalogue ``titles`` (of ``domain``) with the given item
    encoder (None: text-only) and ``backbone`` (default: loaded through the registry). Projector
    and LoRA are initialised from ``training.seed``."""
    backbone = backbone if backbone is not None else BACKBONES.build(cfg.backbone.name, cfg.backbone.params).load()
    hidden = backbone.model.get_input_embeddings().weight.shape[1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.training.seed)  # projector and LoRA initialisation
        projector = None
        if encoder is not None:
            projector = PROJECTORS.build(cfg.projector.name, cfg.projector.params, in_dim=encoder.dim, out_dim=hidden)
        builder = PROMPT_BUILDERS.build(cfg.prompt_builder.name, cfg.prompt_builder.params, titles=titles, dataset_domain=domain)
        curriculum = CURRICULUM_SCHEDULERS.build(cfg.curriculum.name, cfg.curriculum.params)
        model = LLaRA(
            backbone,
            builder,
            encoder,
            projector,
            tuning=cfg.backbone.tuning,
            lora=cfg.backbone.lora,
            curriculum=curriculum,
            titles=titles,
        )
    model.config = cfg
    model.domain = domain
    if encoder is not None:
        saved, source = getattr(encoder, "llara_source", ({}, None))
        model.item_encoder_name = saved.get("component") or cfg.item_encoder.name
        model.item_encoder_meta = {
            "data_hash": saved.get("data_hash"),
            "dataset": saved.get("dataset"),
            **{k: saved[k] for k in ("training", "metrics", "source") if k in saved},
        }
        if source is not None:
            from llara_core.model.artefact import sha256_file
            from llara_core.sr.checkpoint import WEIGHTS

            model.item_encoder_meta["source_sha256"] = sha256_file(Path(source) / WEIGHTS)
    return model


def write_run_config(cfg: ExperimentConfig, run_dir: Path) -> None:
    """``config.json`` (the validated config) and ``config.resolved.json`` (plus every
    component's full params, implementation and providing distribution)."""
    from llara_core.config import resolved_config
    from llara_core.fileio import atomic_write_json

    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / CONFIG_FILE, cfg.model_dump(mode="json"))
    atomic_write_json(run_dir / RESOLVED_FILE, resolved_config(cfg))


def read_run_config(run_dir: str | Path) -> ExperimentConfig:
    from llara_core.fileio import read_json

    path = Path(run_dir) / CONFIG_FILE
    if not Path(run_dir).is_dir():
        raise LlaraError(f"{run_dir}: not found (expected a run folder written by `llara train`)")
    if not path.is_file():
        raise LlaraError(f"{run_dir}: no {CONFIG_FILE}; not a llara run folder")
    return validate_config(read_json(path, "a run's config"), source=str(path))


def load_run(run_dir: str | Path, checkpoint: str = "best", **overrides: Any) -> LLaRA:
    """The model of a finished (or interrupted) run with the weights of ``checkpoint``
    (``best`` or ``last``): a verified artefact (older runs load with a warning)."""
    from llara_core.model.artefact import LEGACY_TRAINABLE, from_pretrained, is_artefact
    from llara_core.training.state_io import recover_checkpoint

    if not Path(run_dir).is_dir():
        raise LlaraError(f"{run_dir}: not found (expected a run folder written by `llara train`)")
    folder = Path(run_dir) / checkpoint
    recover_checkpoint(folder)  # a save killed between its renames
    if not is_artefact(folder) and not (folder / LEGACY_TRAINABLE).is_file():
        raise LlaraError(f"{folder}: no saved model (has the run saved a {checkpoint!r} checkpoint?)")
    return from_pretrained(folder)


def build_zero_shot(backbone: str, dataset: Dataset, backbone_params: dict[str, Any] | None = None, prompt_builder: str = "llara", prompt_params: dict[str, Any] | None = None) -> LLaRA:
    """The untuned LLM with text-only prompts (the paper's zero-shot LLM rows)."""
    loaded = BACKBONES.build(backbone, backbone_params or {}).load()
    builder = PROMPT_BUILDERS.build(prompt_builder, prompt_params or {}, titles=dataset.titles, dataset_domain=dataset.domain)
    model = LLaRA(loaded, builder, tuning="freeze", titles=dataset.titles)
    model.eval()
    return model
