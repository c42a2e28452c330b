"""Experiment config: every error at once with paths and suggestions, YAML round trip, overrides."""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

import pytest
import yaml

from llara_core.config import (
    ExperimentConfig,
    apply_overrides,
    load_config,
    resolved_config,
    validate_config,
)
from llara_core.errors import ConfigError


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def good_raw(stub_components, tiny_dataset_dir) -> dict:
    return {
        "name": "tiny-run",
        "data": {"path": str(tiny_dataset_dir), "n_candidates": 5},
        "item_encoder": {"name": "test-stub", "params": {"dim": 4}},
        "projector": {"name": "mlp", "params": {"hidden_dim": 12}},
        "prompt_builder": "test-stub",
        "curriculum": {"name": "step", "params": {"boundaries": [0.3], "values": [0.0, 1.0]}},
        "backbone": {"name": "test-stub", "params": {"hidden_size": 8}, "lora": {"r": 4}},
        "training": {"lr": 5e-4, "max_steps": 10},
        "evaluation": {"seeds": [0, 1]},
    }


def test_several_mistakes_are_reported_together_with_paths_and_suggestions(good_raw, tmp_path):
    raw = {
        **good_raw,
        "projector": "mpl",
        "training": {"lr": -0.001, "btach_size": 4},
        "curriculum": {"name": "linear", "params": {"end": 1.5}},
    }
    path = write_yaml(tmp_path / "bad.yaml", raw)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    errors = dict(info.value.errors)
    assert set(errors) == {"projector.name", "training.lr", "training.btach_size", "curriculum.params.end"}
    assert "did you mean 'mlp'?" in errors["projector.name"]
    assert "greater than 0" in errors["training.lr"] and "-0.001" in errors["training.lr"]
    assert "did you mean 'batch_size'?" in errors["training.btach_size"]
    assert "less than or equal to 1" in errors["curriculum.params.end"]
    text = str(info.value)
    assert text.startswith(f"{path}: 4 configuration error(s):")
    assert all(f"  {p}: " in text for p in errors)


def test_component_and_schema_errors_of_every_section(tiny_dataset_dir, stub_components, tmp_path):
    raw = {
        "data": {"path": str(tmp_path / "nowhere"), "n_candidates": 1},
        "item_encoder": {"name": "test-stub", "params": {"dim": 0}},
        "projector": {"name": "linear", "params": {"bais": False}},
        "prompt_builder": "test-stubb",
        "curriculum": {"name": "step", "params": {"boundaries": [0.5], "values": [1.0]}},
        "backbone": {"name": "test-stub", "tuning": "half"},
        "evalution": {},
    }
    with pytest.raises(ConfigError) as info:
        validate_config(raw)
    errors = dict(info.value.errors)
    assert "greater than or equal to 2" in errors["data.n_candidates"]
    assert "greater than 0" in errors["item_encoder.params.dim"]
    assert "did you mean 'bias'?" in errors["projector.params.bais"]
    assert "did you mean 'test-stub'?" in errors["prompt_builder.name"]
    assert "one more entry than boundaries" in errors["curriculum.params"]
    assert "'lora'" in errors["backbone.tuning"]
    assert "did you mean 'evaluation'?" in errors["evalution"]
    # the data folder is checked only once the schema is valid; fix the schema and it shows up
    fixed = {**raw, "data": {"path": str(tmp_path / "nowhere")}}
    fixed = {k: v for k, v in fixed.items() if k != "evalution"} | {"backbone": "test-stub"}
    with pytest.raises(ConfigError) as info:
        validate_config(fixed)
    assert "no manifest.json" in dict(info.value.errors)["data.path"]


def test_missing_sections_are_reported_by_path(stub_components):
    with pytest.raises(ConfigError) as info:
        validate_config({"projector": "mlp"})
    errors = dict(info.value.errors)
    assert {"data", "item_encoder", "backbone"} <= set(errors)
    assert errors["data"] == "required field is missing"


def test_bare_name_equals_name_with_empty_params(good_raw):
    bare = validate_config({**good_raw, "projector": "linear"})
    full = validate_config({**good_raw, "projector": {"name": "linear", "params": {}}})
    assert bare == full
    assert bare.projector.name == "linear" and bare.projector.params == {}


def test_valid_config_round_trips_through_yaml(good_raw, tmp_path):
    cfg = load_config(write_yaml(tmp_path / "good.yaml", good_raw))
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.data.path == Path(good_raw["data"]["path"]) and cfg.training.max_steps == 10
    dumped = write_yaml(tmp_path / "dumped.yaml", cfg.model_dump(mode="json"))
    again = load_config(dumped)
    assert again == cfg
    assert again.model_dump(mode="json") == cfg.model_dump(mode="json")


def test_overrides_apply_before_validation(good_raw, tmp_path):
    path = write_yaml(tmp_path / "good.yaml", good_raw)
    cfg = load_config(path, ["training.lr=0.002", "projector=linear", "curriculum.params.values=[0.0, 0.5]",
                             "prompt_builder.params={}", "evaluation.seeds=[3, 4, 5]"])
    assert cfg.training.lr == 0.002
    assert (cfg.projector.name, cfg.projector.params) == ("linear", {})
    assert cfg.curriculum.params["values"] == [0.0, 0.5]
    assert cfg.prompt_builder.name == "test-stub"  # a bare name expands to a mapping
    assert cfg.evaluation.seeds == [3, 4, 5]
    with pytest.raises(ConfigError) as info:
        load_config(path, ["training.lr=-1", "projector.name=linaer"])
    errors = dict(info.value.errors)
    assert set(errors) == {"training.lr", "projector.name"}
    assert "did you mean 'linear'?" in errors["projector.name"]
    with pytest.raises(ConfigError, match="section.key=value"):
        apply_overrides({}, ["training.lr"])


def test_override_of_an_absent_component_section_keeps_its_default_name(good_raw, tmp_path):
    raw = {k: v for k, v in good_raw.items() if k not in ("projector", "curriculum")}
    path = write_yaml(tmp_path / "defaults.yaml", raw)
    cfg = load_config(path, ["projector.params.dropout=0.2", "curriculum.params.end=0.5"])
    assert (cfg.projector.name, cfg.projector.params) == ("mlp", {"dropout": 0.2})
    assert (cfg.curriculum.name, cfg.curriculum.params) == ("linear", {"end": 0.5})


def test_resolved_config_names_implementations_and_distributions(good_raw):
    resolved = resolved_config(validate_config(good_raw))
    projector = resolved["projector"]
    assert projector["name"] == "mlp"
    assert projector["params"] == {"hidden_dim": 12, "dropout": 0.0}  # defaults filled in
    assert projector["implementation"] == "llara_plugins.projectors.mlp.MLPProjector"
    assert (projector["distribution"], projector["version"]) == ("llara", md.version("llara"))
    for section in ("item_encoder", "prompt_builder", "backbone"):
        assert resolved[section]["distribution"] == "llara-test-stubs", section
    assert resolved["backbone"]["params"] == {"hidden_size": 8}
    assert resolved["backbone"]["lora"]["r"] == 4
    assert resolved["curriculum"]["params"] == {"boundaries": [0.3], "values": [0.0, 1.0]}


def test_yaml_problems_are_one_line_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(broken)
    listing = tmp_path / "list.yaml"
    listing.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_config(listing)


MISFIT_SOURCE = '''
from pydantic import BaseModel, ConfigDict

from llara_core.interfaces import Prompt, PromptBuilder


class VerboseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    verbose: bool = False


class Misfit(PromptBuilder):
    """A prompt builder whose constructor takes neither the titles nor its own param."""

    Params = VerboseParams

    def __init__(self, catalogue):
        self.catalogue = catalogue

    n_templates = 1

    def title(self, item_id):
        return str(item_id)

    def build(self, sample, mode, template_index=0):
        return Prompt("", (), None, template_index)
'''


def test_a_component_whose_constructor_does_not_fit_its_slot_is_a_config_error(good_raw, fake_distribution, tmp_path):
    """Caught by `llara config validate`, with the other errors, not by `llara train`."""
    fake_distribution("misfit-prompts", {"llara.prompt_builders": {"misfit": "misfit_prompts:Misfit"}},
                      {"misfit_prompts.py": MISFIT_SOURCE})
    path = write_yaml(tmp_path / "misfit.yaml", {**good_raw, "prompt_builder": "misfit", "training": {"lr": -1}})
    with pytest.raises(ConfigError) as info:
        load_config(path)
    errors = dict(info.value.errors)
    assert set(errors) == {"prompt_builder.name", "training.lr"}
    msg = errors["prompt_builder.name"]
    assert "'misfit' from distribution misfit-prompts" in msg
    assert "cls(titles=..., dataset_domain=..., **params)" in msg
    assert "does not accept the runtime argument 'titles'" in msg
    assert "does not accept 'verbose', a field of its Params" in msg
    assert "requires 'catalogue', which llara never passes" in msg


def test_template_mistakes_of_the_llara_prompt_builder_are_config_errors():
    from llara_core.slots import PROMPT_BUILDERS

    with pytest.raises(ConfigError, match=r"prompt_builder\.params\.templates: indices must be in 0\.\.2"):
        PROMPT_BUILDERS.build("llara", {"templates": [5]}, titles=["a"], dataset_domain="movie")
    from llara_core.prompting import TemplatePromptBuilder

    with pytest.raises(ConfigError, match=r"prompt_builder\.params\.templates\.0: .*\[CansHere\] exactly once"):
        TemplatePromptBuilder(["a"], ["History: [HistoryHere]"])


@pytest.mark.parametrize(
    ("training", "evaluation", "expected"),
    [
        ({"objective": "lm"}, {}, False),
        ({"objective": "listwise"}, {}, True),
        ({"objective": "lm+listwise"}, {}, True),
        ({"objective": "listwise", "listwise_length_normalise": False}, {}, False),
        ({"objective": "listwise"}, {"length_normalise": False}, False),
        ({"objective": "lm"}, {"length_normalise": True}, True),
    ],
)
def test_scoring_ranks_as_the_objective_was_trained_unless_set(good_raw, training, evaluation, expected):
    raw = {**good_raw, "training": {**good_raw["training"], **training}, "evaluation": {**good_raw["evaluation"], **evaluation}}
    assert ExperimentConfig.model_validate(raw).scoring_length_normalise() is expected
