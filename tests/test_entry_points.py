"""Entry-point discovery for real: fake distributions on sys.path and an installed example plugin."""

from __future__ import annotations

import importlib.metadata as md
import os
import sys

import pytest
import torch
import yaml

from llara_core.config import validate_config
from llara_core.errors import ConfigError, DuplicateComponentError, PluginLoadError
from llara_core.registry import DISABLE_AUTOLOAD_ENV, Preset
from llara_core.slots import ITEM_ENCODERS, PROJECTORS

PROJECTOR_SOURCE = """
    from torch import nn
    from llara_core.interfaces import Projector

    class AcmeProjector(Projector):
        \"\"\"Acme's projector: a bias-free linear map.\"\"\"

        def __init__(self, in_dim, out_dim):
            super().__init__()
            self.in_dim, self.out_dim = in_dim, out_dim
            self.proj = nn.Linear(in_dim, out_dim, bias=False)

        def forward(self, x):
            return self.proj(x)
    """


def acme(fake_distribution, dist="acme-llara-plugins", version="2.3.4", name="acme", module="acme_proj"):
    return fake_distribution(
        dist, {"llara.projectors": {name: f"{module}:AcmeProjector"}}, {f"{module}.py": PROJECTOR_SOURCE}, version
    )


def test_discovered_lazily_built_and_described_with_its_distribution(fake_distribution):
    acme(fake_distribution)
    assert "acme" in PROJECTORS.names()
    assert "mlp" in PROJECTORS.names()  # llara's built-ins stay
    assert "acme_proj" not in sys.modules  # listing reads metadata only
    proj = PROJECTORS.build("acme", in_dim=4, out_dim=6)
    assert "acme_proj" in sys.modules
    assert proj(torch.ones(2, 3, 4)).shape == (2, 3, 6)
    info = PROJECTORS.describe("acme")
    assert (info["distribution"], info["version"]) == ("acme-llara-plugins", "2.3.4")
    assert info["implementation"] == "acme_proj.AcmeProjector"
    assert info["summary"] == "Acme's projector: a bias-free linear map."


def test_broken_plugin_fails_only_when_selected_and_names_its_distribution(fake_distribution, tiny_dataset_dir):
    fake_distribution(
        "broken-llara-plugin",
        {"llara.projectors": {"broken": "broken_proj:Nope"}},
        {"broken_proj.py": "raise RuntimeError('missing native library')\n"},
    )
    assert "broken" in PROJECTORS.names()
    PROJECTORS.build("mlp", in_dim=2, out_dim=2)  # the rest of the slot works
    for _ in range(2):  # the failure is remembered, not retried into a different error
        with pytest.raises(PluginLoadError) as info:
            PROJECTORS.build("broken", in_dim=2, out_dim=2)
        msg = str(info.value)
        assert "broken-llara-plugin" in msg and "broken_proj:Nope" in msg
        assert "RuntimeError: missing native library" in msg
    with pytest.raises(ConfigError) as info:
        validate_config({"data": {"path": str(tiny_dataset_dir)}, "item_encoder": "x", "backbone": "y",
                         "projector": "broken"})
    assert any(path == "projector.name" and "broken-llara-plugin" in msg for path, msg in info.value.errors)


def test_entry_point_to_a_class_outside_the_interface_fails_when_selected(fake_distribution):
    fake_distribution(
        "wrong-llara-plugin",
        {"llara.projectors": {"wrong": "wrong_proj:NotAProjector"}},
        {"wrong_proj.py": "class NotAProjector:\n    pass\n"},
    )
    assert "wrong" in PROJECTORS.names()
    with pytest.raises(PluginLoadError, match=r"wrong-llara-plugin.*does not implement .*Projector"):
        PROJECTORS.build("wrong", in_dim=2, out_dim=2)


def test_entry_point_may_point_at_a_preset(fake_distribution):
    fake_distribution(
        "preset-llara-plugin",
        {"llara.projectors": {"wide-mlp": "wide_preset:WIDE"}},
        {"wide_preset.py": "from llara_core.registry import Preset\n"
                           "WIDE = Preset('mlp', {'hidden_dim': 32}, 'an MLP with a 32-wide middle')\n"},
    )
    proj = PROJECTORS.build("wide-mlp", in_dim=4, out_dim=8)
    assert proj.net[0].out_features == 32
    info = PROJECTORS.describe("wide-mlp")
    assert (info["preset_of"], info["distribution"]) == ("mlp", "preset-llara-plugin")
    assert isinstance(PROJECTORS._entries["wide-mlp"].target, Preset)


def test_disable_autoload_hides_third_party_entries_but_not_llaras(fake_distribution, monkeypatch):
    acme(fake_distribution)
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    PROJECTORS.reset_discovery()
    names = PROJECTORS.names()
    assert "acme" not in names
    assert {"mlp", "linear"} <= set(names)
    assert PROJECTORS.provider("mlp").distribution == "llara"
    monkeypatch.delenv(DISABLE_AUTOLOAD_ENV)
    PROJECTORS.reset_discovery()
    assert "acme" in PROJECTORS.names()


def test_discovery_is_idempotent(fake_distribution, monkeypatch):
    site = acme(fake_distribution)
    first = PROJECTORS.names()
    assert PROJECTORS.names() == first
    monkeypatch.syspath_prepend(str(site))  # the same distribution found twice on sys.path
    PROJECTORS.reset_discovery()
    assert PROJECTORS.names() == first
    PROJECTORS.build("acme", in_dim=2, out_dim=3)  # not reported as a duplicate of itself
    PROJECTORS.reset_discovery()
    assert PROJECTORS.names() == first


def test_code_registration_survives_reset_and_override_beats_an_entry_point(fake_distribution):
    acme(fake_distribution)
    from llara_plugins.projectors.linear import LinearProjector

    with pytest.raises(DuplicateComponentError, match="acme-llara-plugins"):
        PROJECTORS.register("acme", LinearProjector)
    PROJECTORS.register("acme", LinearProjector, override=True)
    PROJECTORS.register("test-code-only", LinearProjector)
    try:
        PROJECTORS.reset_discovery()
        assert {"acme", "test-code-only"} <= set(PROJECTORS.names())
        assert type(PROJECTORS.build("acme", in_dim=2, out_dim=3)) is LinearProjector
    finally:
        PROJECTORS.unregister("acme")
        PROJECTORS.unregister("test-code-only")


def test_same_name_from_two_distributions_is_an_error_naming_both(fake_distribution, tiny_dataset_dir):
    acme(fake_distribution, dist="acme-one", module="acme_one")
    acme(fake_distribution, dist="acme-two", module="acme_two")
    assert PROJECTORS.names().count("acme") == 1
    with pytest.raises(DuplicateComponentError) as info:
        PROJECTORS.build("acme", in_dim=2, out_dim=2)
    assert "acme-one" in str(info.value) and "acme-two" in str(info.value)
    with pytest.raises(ConfigError, match=r"acme-one.*acme-two|acme-two.*acme-one"):
        validate_config({"data": {"path": str(tiny_dataset_dir)}, "item_encoder": "x", "backbone": "y",
                         "projector": "acme"})


# --------------------------------------------------------------------------- installed example plugin
EXAMPLE_DIST = "llara-example-encoder"
EXAMPLE_NAME = "bag_of_items"


@pytest.fixture
def example_plugin() -> str:
    """The version of the pip-installed example plugin; skips (or fails under
    LLARA_REQUIRE_DATA=1, as in CI) when it is not installed."""
    try:
        return md.version(EXAMPLE_DIST)
    except md.PackageNotFoundError:
        reason = (f"the example plugin distribution {EXAMPLE_DIST} is not installed; "
                  f"run `pip install tests/plugins/{EXAMPLE_DIST}` from the repository root")
        if os.environ.get("LLARA_REQUIRE_DATA", "").strip() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)


def test_example_plugin_is_listed_by_the_cli_with_its_distribution(example_plugin, llara_cli):
    result = llara_cli("components", "item_encoders")
    assert result.returncode == 0, result.stderr
    row = next((line for line in result.stdout.splitlines() if f" {EXAMPLE_NAME} " in line), None)
    assert row is not None, result.stdout
    assert EXAMPLE_DIST in row and example_plugin in row
    assert "Mean of the history's item embeddings" in row


def test_example_plugin_is_accepted_by_config_validate(example_plugin, stub_components, tiny_dataset_dir, tmp_path, llara_cli):
    config = {
        "data": {"path": str(tiny_dataset_dir)},
        "item_encoder": {"name": EXAMPLE_NAME, "params": {"dim": 16}},
        "backbone": "test-stub",
        "prompt_builder": "test-stub",
    }
    good = tmp_path / "example.yaml"
    good.write_text(yaml.safe_dump(config))
    result = llara_cli("config", "validate", str(good), extra_path=stub_components)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**config, "item_encoder": {"name": EXAMPLE_NAME, "params": {"dimm": 16}}}))
    result = llara_cli("config", "validate", str(bad), extra_path=stub_components)
    assert result.returncode == 1
    assert "item_encoder.params.dimm" in result.stdout and "did you mean 'dim'?" in result.stdout


def test_example_plugin_builds_through_the_registry_and_learns(example_plugin):
    torch.manual_seed(0)
    info = ITEM_ENCODERS.describe(EXAMPLE_NAME)
    assert (info["distribution"], info["version"]) == (EXAMPLE_DIST, example_plugin)
    enc = ITEM_ENCODERS.build(EXAMPLE_NAME, {"dim": 8, "history_len": 4}, n_items=12)
    assert isinstance(enc, ITEM_ENCODERS.interface)
    assert (enc.n_items, enc.dim, enc.pad_id) == (12, 8, 12)
    assert enc.embed_items(torch.tensor([[0, 5, 12]])).shape == (1, 3, 8)
    assert torch.all(enc.embed_items(torch.tensor(12)) == 0)  # padding row
    history = torch.tensor([[1, 2, 12, 12], [3, 4, 5, 6], [7, 12, 12, 12]])
    lengths = torch.tensor([2, 4, 1])
    targets = torch.tensor([3, 7, 8])
    scores = enc.score(history, lengths)
    assert scores.shape == (3, 12)
    # padding positions beyond `lengths` do not change the scores
    scrambled = history.clone()
    scrambled[0, 2:] = torch.tensor([9, 10])
    torch.testing.assert_close(enc.score(scrambled, lengths), scores)
    # it is a real recommender: a few Adam steps fit three examples
    opt = torch.optim.Adam(enc.parameters(), lr=0.1)
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(enc(history, lengths), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.equal(enc(history, lengths).argmax(-1), targets)


# --------------------------------------------------------------------------- constructors checked from source
from llara_core.errors import ComponentInterfaceError  # noqa: E402
from llara_core.slots import PROMPT_BUILDERS, SLOTS  # noqa: E402

NO_N_ITEMS_SOURCE = """
    raise RuntimeError("listing and validation must not import this module")

    from llara_core.interfaces import ItemEncoder
    from pydantic import BaseModel, ConfigDict

    class Forgetful(ItemEncoder):
        \"\"\"An encoder whose constructor forgot n_items.\"\"\"

        def __init__(self, dim=8):
            super().__init__()

        def embed_items(self, item_ids):
            return item_ids

        def score(self, history, lengths):
            return history
    """
NO_FIELD_SOURCE = """
    raise RuntimeError("validation must not import this module")

    from llara_core.interfaces import Projector

    class Narrow(Projector):
        \"\"\"A projector that ignores one of its params.\"\"\"

        def __init__(self, in_dim, out_dim):
            super().__init__()
    """
NARROW_PARAMS = """
    from pydantic import BaseModel, ConfigDict

    class NarrowParams(BaseModel):
        model_config = ConfigDict(extra="forbid")
        width: int = 4
    """


def test_a_constructor_refusing_a_runtime_argument_is_reported_when_listed_and_validated(
        fake_distribution, tiny_dataset_dir, capsys, monkeypatch):
    fake_distribution("forgetful-plugin", {"llara.item_encoders": {"forgetful": "forgetful_enc:Forgetful"}},
                      {"forgetful_enc.py": NO_N_ITEMS_SOURCE})
    with pytest.raises(ComponentInterfaceError) as info:
        ITEM_ENCODERS.brief("forgetful")
    msg = str(info.value)
    assert "forgetful-plugin" in msg and "does not accept the runtime argument 'n_items'" in msg
    assert "Forgetful.__init__ does not fit how llara builds item_encoders, cls(n_items=..., **params)" in msg
    monkeypatch.setenv("COLUMNS", "250")
    from llara_core.cli.main import main

    assert main(["components", "item_encoders"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if " forgetful " in line)
    assert "cannot load" in row and "n_items" in row
    assert "forgetful_enc" not in sys.modules  # read from source, never imported


def test_a_constructor_ignoring_a_params_field_fails_config_validation_without_importing(fake_distribution, tiny_dataset_dir):
    fake_distribution(
        "narrow-plugin",
        {"llara.projectors": {"narrow": "narrow_proj:Narrow"},
         "llara.projectors.params": {"narrow": "narrow_params:NarrowParams"}},
        {"narrow_proj.py": NO_FIELD_SOURCE, "narrow_params.py": NARROW_PARAMS},
    )
    PROJECTORS.brief("narrow")  # the runtime arguments are fine: listed normally
    with pytest.raises(ConfigError) as info:
        validate_config({"data": {"path": str(tiny_dataset_dir)}, "item_encoder": "x", "backbone": "y",
                         "projector": "narrow"})
    errors = dict(info.value.errors)
    assert "narrow-plugin" in errors["projector.name"]
    assert "does not accept 'width', a field of its Params" in errors["projector.name"]
    assert "narrow_proj" not in sys.modules


def test_a_constructor_that_does_not_fit_fails_to_build_naming_the_distribution(fake_distribution):
    fake_distribution("forgetful-plugin", {"llara.item_encoders": {"forgetful": "forgetful_enc2:Forgetful"}},
                      {"forgetful_enc2.py": NO_N_ITEMS_SOURCE.replace('raise RuntimeError("listing and validation must not import this module")', "")})
    for _ in range(2):
        with pytest.raises(ComponentInterfaceError, match=r"forgetful-plugin.*'n_items'"):
            ITEM_ENCODERS.build("forgetful", n_items=5)


DOCS_STYLE_PROMPTS = """
    from llara_core.interfaces import Prompt, PromptBuilder

    class TitlesOnly(PromptBuilder):
        \"\"\"Built as cls(titles=..., **params): no dataset_domain.\"\"\"

        def __init__(self, titles):
            self.titles = list(titles)

        n_templates = 1

        def title(self, item_id):
            return self.titles[item_id]

        def build(self, sample, mode, template_index=0):
            return Prompt(", ".join(self.title(i) for i in sample.candidates), (), None, template_index)

    class WithDomain(TitlesOnly):
        \"\"\"Also wants the dataset's domain.\"\"\"

        def __init__(self, titles, dataset_domain):
            super().__init__(titles)
            self.domain = dataset_domain
    """


def test_dataset_domain_is_passed_only_to_a_prompt_builder_that_declares_it(fake_distribution):
    fake_distribution("docs-prompts", {"llara.prompt_builders": {"titles-only": "docs_prompts:TitlesOnly",
                                                                   "with-domain": "docs_prompts:WithDomain"}},
                      {"docs_prompts.py": DOCS_STYLE_PROMPTS})
    PROMPT_BUILDERS.check("titles-only")
    built = PROMPT_BUILDERS.build("titles-only", {}, titles=["a", "b"], dataset_domain="music")
    assert built.titles == ["a", "b"]
    assert PROMPT_BUILDERS.build("with-domain", {}, titles=["a"], dataset_domain="music").domain == "music"


# --------------------------------------------------------------------------- built-ins first, explicit overrides
SHADOW_SOURCE = """
    from llara_core.interfaces import ItemEncoder
    from llara_plugins.item_encoders.sasrec import SASRec

    class FastSASRec(SASRec):
        \"\"\"A drop-in SASRec from another distribution.\"\"\"
    """


def test_a_builtin_wins_over_a_third_party_entry_point_of_the_same_name(fake_distribution, capsys, monkeypatch):
    fake_distribution("squatter", {"llara.item_encoders": {"sasrec": "squat_sasrec:FastSASRec"}},
                      {"squat_sasrec.py": SHADOW_SOURCE})
    assert ITEM_ENCODERS.provider("sasrec").distribution == "llara"
    assert type(ITEM_ENCODERS.build("sasrec", {"dim": 8}, n_items=5)).__qualname__ == "SASRec"
    (shadow,) = [s for s in ITEM_ENCODERS.shadowed() if s.name == "sasrec"]
    assert (shadow.used.distribution, shadow.ignored.distribution, shadow.explicit) == ("llara", "squatter", False)
    monkeypatch.setenv("COLUMNS", "250")
    from llara_core.cli.main import main

    assert main(["components", "item_encoders"]) == 0
    out = capsys.readouterr().out
    assert "note: sasrec: squatter 1.0.0 (squat_sasrec:FastSASRec) is ignored: llara's built-in of that name wins" in out
    assert "llara.item_encoders.overrides" in out


def test_an_explicit_override_replaces_the_builtin_and_is_reported(fake_distribution, capsys, monkeypatch):
    fake_distribution("fast-sasrec", {"llara.item_encoders.overrides": {"sasrec": "fast_sasrec_mod:FastSASRec"}},
                      {"fast_sasrec_mod.py": SHADOW_SOURCE}, version="2.0")
    assert ITEM_ENCODERS.provider("sasrec").distribution == "fast-sasrec"
    assert type(ITEM_ENCODERS.build("sasrec", {"dim": 8}, n_items=5)).__qualname__ == "FastSASRec"
    (shadow,) = [s for s in ITEM_ENCODERS.shadowed() if s.name == "sasrec"]
    assert shadow.explicit and shadow.ignored.distribution == "llara"
    monkeypatch.setenv("COLUMNS", "250")
    from llara_core.cli.main import main

    assert main(["components", "item_encoders"]) == 0
    out = capsys.readouterr().out
    assert "note: sasrec: llara's built-in (llara_plugins.item_encoders.sasrec:SASRec) is replaced by fast-sasrec 2.0" in out
    monkeypatch.setenv(DISABLE_AUTOLOAD_ENV, "1")
    ITEM_ENCODERS.reset_discovery()
    assert ITEM_ENCODERS.provider("sasrec").distribution == "llara" and not ITEM_ENCODERS.shadowed()


def test_two_overrides_of_one_name_are_an_error_naming_both(fake_distribution):
    fake_distribution("fast-one", {"llara.item_encoders.overrides": {"sasrec": "fast_one:FastSASRec"}},
                      {"fast_one.py": SHADOW_SOURCE})
    fake_distribution("fast-two", {"llara.item_encoders.overrides": {"sasrec": "fast_two:FastSASRec"}},
                      {"fast_two.py": SHADOW_SOURCE})
    with pytest.raises(DuplicateComponentError, match=r"fast-(one|two).*fast-(one|two)"):
        ITEM_ENCODERS.build("sasrec", n_items=5)


def test_llaras_own_components_shadow_nothing():
    for registry in SLOTS.values():
        registry.reset_discovery()
        assert [s for s in registry.shadowed() if s.ignored.distribution == "llara"] == []


def test_example_plugin_passes_the_conformance_kit_and_saves_its_hyperparameters(example_plugin, tmp_path):
    from llara_core.sr.checkpoint import load_item_encoder, save_item_encoder
    from llara_core.testing import check_item_encoder

    assert set(check_item_encoder(EXAMPLE_NAME, {"dim": 8, "history_len": 4}).values()) == {"passed"}
    enc = ITEM_ENCODERS.build(EXAMPLE_NAME, {"dim": 8, "history_len": 4}, n_items=12)
    assert enc.hyperparameters() == {"dim": 8, "history_len": 4}
    assert "_hparams" not in vars(enc)  # the plugin sets no private attribute
    save_item_encoder(enc, EXAMPLE_NAME, tmp_path / "bag")
    loaded, config = load_item_encoder(tmp_path / "bag")
    assert config["params"] == {"dim": 8, "history_len": 4} and loaded.hyperparameters() == config["params"]
    assert (loaded.dim, loaded.history_len) == (8, 4)
