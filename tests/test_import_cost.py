"""The light paths stay light: `--help`, `components`, `config validate` and the registries import
no torch, transformers or lightning; params entry points validate without the implementation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from llara_core.cli.main import build_parser, main
from llara_core.config.validate import validate_components
from llara_core.errors import ComponentInterfaceError, LlaraError
from llara_core.registry import DISABLE_AUTOLOAD_ENV
from llara_core.slots import PROJECTORS, SLOTS

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "lightning_fabric", "lightning", "peft")
#: built-ins whose Params still live next to their (torch-importing) implementation
VALIDATED_BY_IMPORT: set[tuple[str, str]] = set()


def heavy_modules_after(code: str) -> list[str]:
    """Run ``code`` in a fresh interpreter (repository root, third-party autoload on) and return the
    heavy top-level modules it left in ``sys.modules``."""
    script = textwrap.dedent(code) + textwrap.dedent(f"""
        import json, sys
        print("HEAVY=" + json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))))
        """)
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop(DISABLE_AUTOLOAD_ENV, None)
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("HEAVY="))
    return json.loads(line.removeprefix("HEAVY="))


def cli(*args: str) -> str:
    return f"""
        import contextlib, io
        from llara_core.cli.main import main
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                code = main({list(args)!r})
            except SystemExit as exc:
                code = exc.code
        assert code == 0, (code, out.getvalue())
        """


def test_registries_and_config_import_no_torch():
    assert heavy_modules_after("import llara_core.registry, llara_core.config") == []


def test_the_package_and_its_light_names_import_no_torch():
    assert heavy_modules_after("""
        import llara_core
        from llara_core import SLOTS, Preset, PromptMode, Registry, __version__
        from llara_core.interfaces import BackboneLoader, BackboneOptions, CurriculumScheduler, PromptBuilder
        assert SLOTS["projectors"].names()
        """) == []


@pytest.mark.parametrize("args", [
    ("--help",),
    ("components",),
    ("components", "backbones", "--describe", "tiny-random-llama"),
    ("components", "item_encoders", "--describe", "sasrec"),
    ("config", "validate", "examples/configs/quickstart.yaml"),
], ids=" ".join)
def test_light_commands_import_no_torch(args):
    assert heavy_modules_after(cli(*args)) == []


def test_every_builtin_validates_and_describes_without_torch():
    """Every built-in declares a params entry point (except the documented exceptions)."""
    code = f"""
        from llara_core.slots import SLOTS
        skip = {sorted(VALIDATED_BY_IMPORT)!r}
        for slot, registry in SLOTS.items():
            for name in registry.names():
                if registry.provider(name).distribution != "llara" or [slot, name] in [list(s) for s in skip]:
                    continue
                registry.params_model(name)
                info = registry.describe(name)
                assert info["summary"] and info["params_schema"], (slot, name)
        """
    assert heavy_modules_after(code) == []


def test_the_lazy_package_still_exports_the_model():
    from llara_core import ItemEncoder, LLaRA
    from llara_core.model.llara import LLaRA as Model

    assert LLaRA is Model and ItemEncoder is SLOTS["item_encoders"].interface
    import llara_core

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        llara_core.Nope  # noqa: B018


def test_one_backbone_options_class():
    from llara_core.interfaces.backbone import BackboneOptions as Light
    from llara_core.model.backbone_setup import BackboneOptions as Heavy

    assert Light is Heavy


def test_sr_cli_baseline_names_match_the_baselines():
    from llara_core.cli.sr_cmd import BASELINES as CLI_BASELINES
    from llara_core.sr.baselines import BASELINES

    assert CLI_BASELINES == BASELINES


# --------------------------------------------------------------------------- --threads
COMPUTING_COMMANDS = {
    "train": ["train", "cfg.yaml"],
    "evaluate": ["evaluate", "runs/x"],
    "recommend": ["recommend", "runs/x", "--history", "1", "--candidates", "2"],
    "sr train": ["sr", "train", "--data", "d", "--model", "sasrec", "--out", "o"],
    "sr evaluate": ["sr", "evaluate", "m", "--data", "d"],
    "quickstart": ["quickstart"],
}


@pytest.mark.parametrize("command", COMPUTING_COMMANDS)
def test_every_computing_command_accepts_threads(command):
    parser = build_parser()
    args = parser.parse_args([*COMPUTING_COMMANDS[command], "--threads", "3"])
    assert args.threads == 3
    default = parser.parse_args(COMPUTING_COMMANDS[command]).threads
    assert default == (1 if command in ("sr train", "quickstart") else None)  # these two default to 1


def test_threads_rejects_negative_numbers(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "cfg.yaml", "--threads", "-2"])
    assert "expected 0 or more threads" in capsys.readouterr().err


def test_apply_threads_sets_torch_threads_only_when_given():
    import torch

    from llara_core.cli.options import apply_threads

    before = torch.get_num_threads()
    try:
        apply_threads(None)
        apply_threads(0)
        assert torch.get_num_threads() == before
        apply_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- params entry points
PARAMS_SOURCE = """
    from pydantic import BaseModel, ConfigDict, Field

    class AcmeParams(BaseModel):
        model_config = ConfigDict(extra="forbid")
        width: int = Field(4, gt=0, description="inner width")

    class OtherParams(BaseModel):
        model_config = ConfigDict(extra="forbid")
        width: int = 4
    """
IMPL_SOURCE = """
    from torch import nn
    from llara_core.interfaces import Projector
    from {params_module} import AcmeParams

    class AcmeProjector(Projector):
        \"\"\"Acme's light-to-validate projector.\"\"\"

        Params = AcmeParams

        def __init__(self, in_dim, out_dim, width=4):
            super().__init__()
            self.in_dim, self.out_dim = in_dim, out_dim
            self.net = nn.Sequential(nn.Linear(in_dim, width), nn.Linear(width, out_dim))

        def forward(self, x):
            return self.net(x)
    """


def acme_light(fake_distribution, name="acme-light", params_attr="AcmeParams", params_dist=None):
    impl, params = f"{name.replace('-', '_')}_impl", f"{name.replace('-', '_')}_params"
    modules = {f"{impl}.py": IMPL_SOURCE.format(params_module=params), f"{params}.py": PARAMS_SOURCE}
    params_ep = {"llara.projectors.params": {name: f"{params}:{params_attr}"}}
    if params_dist is None:
        fake_distribution(f"{name}-plugin", {"llara.projectors": {name: f"{impl}:AcmeProjector"}, **params_ep}, modules)
    else:
        fake_distribution(f"{name}-plugin", {"llara.projectors": {name: f"{impl}:AcmeProjector"}}, modules)
        fake_distribution(params_dist, params_ep)
    return impl, params


def test_a_params_entry_point_validates_without_importing_the_implementation(fake_distribution):
    impl, params = acme_light(fake_distribution)
    assert PROJECTORS.validate_params("acme-light", {"width": 8}).width == 8
    with pytest.raises(ValidationError):
        PROJECTORS.validate_params("acme-light", {"width": 0})
    assert PROJECTORS.params_model("acme-light").__module__ == params
    errors = validate_components({"projector": {"name": "acme-light", "params": {"widht": 8}}}, check_paths=False)
    assert errors == [("projector.params.widht", "unknown key; did you mean 'width'? (allowed: width)")]
    info = PROJECTORS.describe("acme-light")
    assert info["implementation"] == f"{impl}.AcmeProjector"
    assert info["summary"] == "Acme's light-to-validate projector."
    assert info["distribution"] == "acme-light-plugin"
    assert set(info["params_schema"]["properties"]) == {"width"}
    assert PROJECTORS.brief("acme-light")["summary"] == "Acme's light-to-validate projector."
    assert impl not in sys.modules and params in sys.modules

    proj = PROJECTORS.build("acme-light", {"width": 3}, in_dim=2, out_dim=5)  # building imports it
    assert impl in sys.modules and proj.net[0].out_features == 3
    assert type(proj).Params is PROJECTORS.params_model("acme-light")


def test_a_declared_params_class_that_is_not_the_implementations_is_a_clear_error(fake_distribution):
    impl, params = acme_light(fake_distribution, name="acme-mismatch", params_attr="OtherParams")
    PROJECTORS.validate_params("acme-mismatch", {"width": 2})  # only the declared model is read
    for _ in range(2):  # remembered, same error
        with pytest.raises(ComponentInterfaceError) as info:
            PROJECTORS.build("acme-mismatch", in_dim=2, out_dim=2)
        msg = str(info.value)
        assert f"{impl}.AcmeProjector.Params is {params}.AcmeParams" in msg
        assert f"declares {params}.OtherParams" in msg and "acme-mismatch-plugin" in msg


def test_a_params_entry_point_of_another_distribution_is_ignored(fake_distribution):
    impl, params = acme_light(fake_distribution, name="acme-foreign", params_attr="OtherParams", params_dist="squatter")
    model = PROJECTORS.params_model("acme-foreign")  # the implementation's own Params, imported
    assert impl in sys.modules and model.__qualname__ == "AcmeParams"


# --------------------------------------------------------------------------- listing from source
LISTED_SOURCE = """
    raise RuntimeError("listing must not import this module")

    from llara_core.interfaces import Projector
    from llara_core.registry import Preset

    class FromSource(Projector):
        \"\"\"Read from the source, never run.

        Not this line.
        \"\"\"

    WIDE = Preset("mlp", {"hidden_dim": 32}, summary="a 32-wide MLP, read from the source")
    PLAIN = Preset("mlp", {"dropout": 0.1})
    """


def test_components_lists_summaries_and_presets_from_source_without_importing(fake_distribution, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    fake_distribution(
        "listed-plugin",
        {"llara.projectors": {"from-source": "listed_proj:FromSource", "wide": "listed_proj:WIDE",
                              "plain": "listed_proj:PLAIN", "needs-dep": "listed_dep:NeedsDep"}},
        {"listed_proj.py": LISTED_SOURCE,
         "listed_dep.py": "import llara_no_such_package_xyz\n\nclass NeedsDep:\n    \"\"\"Needs a missing package.\"\"\"\n"},
    )
    assert PROJECTORS.brief("from-source")["summary"] == "Read from the source, never run."
    wide = PROJECTORS.brief("wide")
    assert (wide["preset_of"], wide["summary"]) == ("mlp", "a 32-wide MLP, read from the source")
    assert PROJECTORS.brief("plain")["summary"] == PROJECTORS.brief("mlp")["summary"]  # the base's
    with pytest.raises(LlaraError, match="'llara_no_such_package_xyz', which is not installed"):
        PROJECTORS.brief("needs-dep")
    assert main(["components", "projectors"]) == 0
    out = capsys.readouterr().out
    assert "Read from the source, never run." in out and "Not this line" not in out
    assert "preset of mlp: a 32-wide MLP, read from the source" in out
    assert "cannot load" in next(line for line in out.splitlines() if " needs-dep " in line)
    assert "listed_proj" not in sys.modules and "listed_dep" not in sys.modules
