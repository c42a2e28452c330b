"""Fixtures shared by the test suite: fake plugin distributions and a tiny dataset folder."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from llara_core.data.dataset import Dataset, Sample, Split
from llara_core.registry import DISABLE_AUTOLOAD_ENV
from llara_core.slots import SLOTS

REPO_ROOT = Path(__file__).resolve().parents[1]


def _reset_all_slots() -> None:
    for registry in SLOTS.values():
        registry.reset_discovery()


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Factory: ``make(dist, entry_points, modules, version="1.0.0") -> site folder``.

    Writes ``{dist}-{version}.dist-info`` (METADATA + entry_points.txt) and the given modules
    (``{"pkg/mod.py": source}``) into a fresh folder, puts it first on ``sys.path`` and resets
    entry-point discovery of every slot, exactly as if the distribution had been pip-installed.
    ``entry_points`` maps a group to ``{name: "module:attr"}``. Everything is undone afterwards.
    """
    made_modules: set[str] = set()

    def make(
        dist: str,
        entry_points: Mapping[str, Mapping[str, str]],
        modules: Mapping[str, str] | None = None,
        version: str = "1.0.0",
    ) -> Path:
        site = tmp_path / f"site-{dist}"
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = []
        for group, eps in entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{name} = {value}" for name, value in eps.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for rel, source in (modules or {}).items():
            path = site / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
            made_modules.add(rel.split("/")[0].removesuffix(".py"))
        monkeypatch.syspath_prepend(str(site))
        _reset_all_slots()
        return site

    yield make
    for name in list(sys.modules):
        if name.split(".")[0] in made_modules:
            del sys.modules[name]
    _reset_all_slots()


@pytest.fixture
def tiny_dataset_dir(tmp_path: Path) -> Path:
    """A saved 30-item dataset folder (manifest.json + splits) for configs that need one."""
    titles = [f"Item {i}" for i in range(30)]

    def split(name: str, rows: int, offset: int) -> Split:
        return Split.from_samples(
            name,
            [Sample(history=tuple((offset + r + k) % 30 for k in range(3)), target=(offset + r + 5) % 30, user=r)
             for r in range(rows)],
        )

    ds = Dataset(
        name="tiny",
        domain="item",
        titles=titles,
        splits={"train": split("train", 12, 0), "val": split("val", 4, 7), "test": split("test", 4, 11)},
    )
    folder = tmp_path / "tiny-dataset"
    ds.save(folder)
    return folder


STUB_DISTRIBUTION = "llara-test-stubs"
STUB_SOURCE = '''
"""Throwaway components so that configs validate without the real model plugins."""
import torch
from torch import nn
from pydantic import BaseModel, ConfigDict, Field

from llara_core.errors import LlaraError
from llara_core.interfaces import BackboneLoader, ItemEncoder, Prompt, PromptBuilder


class StubEncoderParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dim: int = Field(8, gt=0)
    history_len: int = Field(10, gt=0)


class StubEncoder(ItemEncoder):
    """Test stub item encoder: an embedding table, scores by dot product with the last item."""

    Params = StubEncoderParams

    def __init__(self, n_items, dim=8, history_len=10):
        super().__init__()
        self.n_items, self.dim, self.history_len = n_items, dim, history_len
        self.table = nn.Embedding(n_items + 1, dim, padding_idx=n_items)

    def embed_items(self, item_ids):
        return self.table(item_ids)

    def score(self, history, lengths):
        last = self.table(history.gather(1, (lengths - 1)[:, None]))[:, 0]
        return last @ self.table.weight[:-1].T


class StubBackboneParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden_size: int = Field(16, gt=0)


class StubBackbone(BackboneLoader):
    """Test stub backbone: validates like a backbone, refuses to load."""

    Params = StubBackboneParams

    def load(self):
        raise LlaraError("the test stub backbone has no weights")


class StubPrompts(PromptBuilder):
    """Test stub prompt builder: comma-separated titles."""

    def __init__(self, titles=()):
        self.titles = list(titles)

    @property
    def n_templates(self):
        return 1

    def title(self, item_id):
        return self.titles[item_id]

    def build(self, sample, mode, template_index=0):
        items = list(sample.history) + list(sample.candidates)
        text = ", ".join(self.title(i) + " " + self.placeholder for i in items)
        target = None if sample.target is None else self.title(sample.target)
        return Prompt(text, tuple(items), target, template_index)
'''


@pytest.fixture
def stub_components(fake_distribution: Callable[..., Path]) -> Path:
    """Installs (on sys.path) the distribution ``llara-test-stubs`` providing ``test-stub`` in the
    item encoder, backbone and prompt builder slots; returns its folder (for PYTHONPATH)."""
    return fake_distribution(
        STUB_DISTRIBUTION,
        {
            "llara.item_encoders": {"test-stub": "llara_test_stubs:StubEncoder"},
            "llara.backbones": {"test-stub": "llara_test_stubs:StubBackbone"},
            "llara.prompt_builders": {"test-stub": "llara_test_stubs:StubPrompts"},
        },
        {"llara_test_stubs.py": STUB_SOURCE},
    )


@pytest.fixture
def llara_cli() -> Callable[..., subprocess.CompletedProcess]:
    """``run(*args, extra_path=None)``: the installed ``llara`` command in a fresh process (wide
    console, no colour, third-party autoload on); ``extra_path`` goes first on PYTHONPATH (e.g.
    the folder of a fake distribution)."""

    def run(*args: str, extra_path: Path | None = None) -> subprocess.CompletedProcess:
        exe = Path(sys.executable).with_name("llara")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "llara_core.cli.main"]
        env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
        env.pop(DISABLE_AUTOLOAD_ENV, None)
        if extra_path is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
        return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, timeout=120)

    return run


@pytest.fixture(scope="session")
def llara_world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small synthetic dataset folder and a seeded SASRec checkpoint (see tests/llara_world.py)."""
    from tests.llara_world import make_world

    return make_world(tmp_path_factory.mktemp("llara-world"))
