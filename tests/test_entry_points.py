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
