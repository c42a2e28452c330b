"""The ``llara components`` and ``llara config validate`` commands, as a user runs them."""

from __future__ import annotations

import importlib.metadata as md
import json
import re
from pathlib import Path

import pytest
import yaml

from llara_core.cli.main import main
from llara_core.slots import SLOTS

TITLE = re.compile(r"^(\w+)\s+\((llara\.\w+)\)")


def parse_tables(stdout: str) -> dict[str, dict[str, list[str]]]:
    """``{slot: {name: [name, distribution, version, summary]}}`` from the rich tables."""
    tables: dict[str, dict[str, list[str]]] = {}
    slot = None
    for line in stdout.splitlines():
        match = TITLE.match(line)
        if match:
            slot = match.group(1)
            assert match.group(2) == SLOTS[slot].group
            tables[slot] = {}
        elif line.startswith("│") and slot is not None:
            cells = [c.strip() for c in line.strip().strip("│").split("│")]
            if cells[0] and cells[0] != "name":
                tables[slot][cells[0]] = cells
    return tables


@pytest.fixture
def wide_console(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")


def test_components_lists_every_slot_with_builtins_and_their_distribution(llara_cli):
    result = llara_cli("components")
    assert result.returncode == 0, result.stderr
    tables = parse_tables(result.stdout)
    assert list(tables) == list(SLOTS)
    version = md.version("llara")
    for slot, registry in SLOTS.items():
        builtins = {n for n in registry.names() if registry.provider(n).distribution == "llara"}
        assert builtins, slot
        for name in builtins:
            row = tables[slot].get(name)
            assert row is not None, f"{slot}/{name} missing from:\n{result.stdout}"
            assert row[1:3] == ["llara", version] and row[3], row
            assert "cannot load" not in row[3], row
    assert {"mlp", "linear"} <= set(tables["projectors"])
    assert {"linear", "constant", "step", "cosine"} <= set(tables["curriculum_schedulers"])


def test_components_with_a_slot_lists_only_that_slot(llara_cli):
    result = llara_cli("components", "projectors")
    assert result.returncode == 0, result.stderr
    tables = parse_tables(result.stdout)
    assert list(tables) == ["projectors"]
    assert set(tables["projectors"]) == set(SLOTS["projectors"].names())


def test_components_unknown_slot_is_a_one_line_error(capsys):
    assert main(["components", "projector"]) == 2
    err = capsys.readouterr().err
    assert "unknown slot 'projector'; did you mean 'projectors'?" in err
    assert "Traceback" not in err


def test_components_describe_prints_the_params_schema(capsys, wide_console):
    assert main(["components", "curriculum-schedulers", "--describe", "step"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["implementation"] == "llara_plugins.curricula.step.StepCurriculum"
    assert info["distribution"] == "llara"
    assert set(info["params_schema"]["properties"]) == {"boundaries", "values"}
    assert main(["components", "--describe", "step"]) == 2
    assert "--describe needs a SLOT" in capsys.readouterr().err


def test_components_lists_a_broken_plugin_with_its_error(fake_distribution, capsys, wide_console):
    fake_distribution(
        "broken-llara-plugin",
        {"llara.projectors": {"broken": "broken_cli_proj:Nope"}},
        {"broken_cli_proj.py": "raise ImportError('no module named fancy_kernels')\n"},
    )
    assert main(["components", "projectors"]) == 0
    rows = parse_tables(capsys.readouterr().out)["projectors"]
    assert rows["broken"][1] == "broken-llara-plugin"
    assert "cannot load" in rows["broken"][3]
    assert rows["mlp"][1] == "llara"


@pytest.fixture
def configs(stub_components, tiny_dataset_dir, tmp_path) -> dict[str, Path]:
    good = {
        "data": {"path": str(tiny_dataset_dir)},
        "item_encoder": "test-stub",
        "projector": "mlp",
        "prompt_builder": "test-stub",
        "backbone": "test-stub",
        "training": {"lr": 0.0008},
    }
    bad = {**good, "projector": "mpl", "training": {"lr": -0.0008}}
    paths = {"good": tmp_path / "good.yaml", "bad": tmp_path / "bad.yaml", "stubs": stub_components}
    paths["good"].write_text(yaml.safe_dump(good))
    paths["bad"].write_text(yaml.safe_dump(bad))
    return paths


def test_config_validate_exits_zero_on_a_valid_config(configs, llara_cli):
    result = llara_cli("config", "validate", str(configs["good"]), extra_path=configs["stubs"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{configs['good']}: valid" in result.stdout


def test_config_validate_reports_every_error_and_exits_non_zero(configs, llara_cli):
    result = llara_cli("config", "validate", str(configs["good"]), str(configs["bad"]), extra_path=configs["stubs"])
    assert result.returncode == 1
    out = result.stdout
    assert f"{configs['good']}: valid" in out  # every file is checked, not just up to the first bad one
    assert f"{configs['bad']}: 2 configuration error(s):" in out
    assert re.search(r"projector\.name: unknown projectors name 'mpl'; did you mean 'mlp'\?", out)
    assert re.search(r"training\.lr: Input should be greater than 0 \(got -0\.0008\)", out)
    assert "Traceback" not in out + result.stderr


def test_config_validate_overrides_and_missing_files(configs, capsys):
    assert main(["config", "validate", str(configs["good"]), "-o", "training.lr=-1"]) == 1
    assert "training.lr: Input should be greater than 0" in capsys.readouterr().out
    assert main(["config", "validate", str(configs["bad"]), "-o", "projector=linear", "-o", "training.lr=0.1"]) == 0
    assert main(["config", "validate", str(configs["good"].with_name("nope.yaml"))]) == 1
    assert "file not found" in capsys.readouterr().out


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == 2
    assert "components" in capsys.readouterr().out


def test_components_check_imports_every_component_and_exits_zero_when_all_load(capsys, wide_console):
    assert main(["components", "--check"]) == 0
    out = capsys.readouterr().out
    assert "cannot load" not in out
    total = sum(len(r.names()) for r in SLOTS.values())
    assert f"all {total} component(s) load" in out


def test_components_check_exits_one_when_a_component_cannot_load(fake_distribution, capsys, wide_console):
    # the listing cannot tell (the failure happens at import), --check can
    fake_distribution(
        "late-broken-plugin",
        {"llara.projectors": {"late-broken": "late_broken_proj:Late"}},
        {"late_broken_proj.py": """
            from llara_core.interfaces import Projector
            raise RuntimeError("the native kernels are missing")

            class Late(Projector):
                \"\"\"Breaks on import.\"\"\"
            """},
    )
    assert main(["components", "projectors"]) == 0  # listed from source: looks fine
    assert "cannot load" not in parse_tables(capsys.readouterr().out)["projectors"]["late-broken"][3]
    assert main(["components", "projectors", "--check"]) == 1
    out = capsys.readouterr().out
    row = parse_tables(out)["projectors"]["late-broken"]
    assert row[1] == "late-broken-plugin" and "cannot load" in row[3]
    assert "component(s) cannot load: projectors/late-broken" in out


def test_errors_are_one_line_and_debug_shows_the_traceback(capsys, monkeypatch):
    monkeypatch.delenv("LLARA_DEBUG", raising=False)
    assert main(["components", "projector"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: unknown slot 'projector'; did you mean 'projectors'? (slots: "
                                        + ", ".join(SLOTS) + ")"]
    for argv in (["--debug", "components", "projector"], ["components", "projector", "--debug"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "UnknownComponentError" in err
        assert err.rstrip().endswith("(slots: " + ", ".join(SLOTS) + ")")
    monkeypatch.setenv("LLARA_DEBUG", "1")
    assert main(["components", "projector"]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_debug_is_accepted_by_every_command(capsys):
    from llara_core.cli.main import build_parser

    parser = build_parser()
    assert parser.parse_args(["--debug", "components"]).debug is True
    assert parser.parse_args(["components"]).debug is False
    assert parser.parse_args(["config", "validate", "x.yaml", "--debug"]).debug is True
    assert parser.parse_args(["sr", "train", "--data", "d", "--model", "m", "--out", "o", "--debug"]).debug is True
