"""The conformance kit (llara_core.testing): every built-in passes it, it catches broken
components, and every example of docs/plugins.md runs exactly as written there."""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from llara_core.errors import ConformanceError, LlaraError
from llara_core.interfaces import (
    CurriculumScheduler,
    ItemEncoder,
    Projector,
    Prompt,
    PromptBuilder,
    PromptMode,
)
from llara_core.slots import BACKBONES, ITEM_ENCODERS, PROMPT_BUILDERS, SLOTS
from llara_core.testing import (
    CHECKS,
    PytestCheck,
    SkipCheck,
    check_backbone,
    check_curriculum,
    check_item_encoder,
    check_projector,
    check_prompt_builder,
    checks_for,
    parametrize_with_checks,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
PLUGINS_MD = REPO_ROOT / "docs" / "plugins.md"
EXAMPLE = REPO_ROOT / "tests" / "plugins" / "llara-example-encoder"
HEAVY = ("torch", "transformers", "lightning_fabric", "lightning", "peft")


# --------------------------------------------------------------------------- every built-in, every check
@parametrize_with_checks(*SLOTS.values(), distribution="llara")
def test_builtin_components_conform(check):
    check()


def test_the_builtin_parametrisation_covers_every_registered_builtin():
    """No hard-coded lists: every llara component of every slot gets every check of its slot."""
    mark = parametrize_with_checks(*SLOTS.values(), distribution="llara")
    ids = {p.id for p in mark.args[1]}
    for slot, registry in SLOTS.items():
        for name in registry.names():
            if registry.provider(name).distribution == "llara":
                assert {f"{slot}-{name}-{c}" for c, _, _ in CHECKS[slot]} <= ids, (slot, name)


def test_expensive_components_are_skipped_unless_asked_for(monkeypatch):
    monkeypatch.delenv("LLARA_CHECK_EXPENSIVE", raising=False)
    skipped = {p.id for p in parametrize_with_checks(BACKBONES).args[1] if p.marks}
    assert any(i.startswith("backbones-smollm2-135m-") for i in skipped)
    assert not any(i.startswith("backbones-tiny-random") for i in skipped)
    assert not any(p.marks for p in parametrize_with_checks(BACKBONES, expensive=True).args[1])
    monkeypatch.setenv("LLARA_CHECK_EXPENSIVE", "1")
    assert not any(p.marks for p in parametrize_with_checks(BACKBONES).args[1])
    with pytest.raises(LlaraError, match="'no-such-thing' is registered in none of backbones"):
        parametrize_with_checks(BACKBONES, names=["no-such-thing"])


def test_a_component_needing_params_is_skipped_or_built_with_its_check_params():
    hf_checks = checks_for(BACKBONES, "hf")
    with pytest.raises(SkipCheck, match=r"needs params \(model: Field required\)"):
        hf_checks[0]()
    with pytest.raises(pytest.skip.Exception, match="needs params"):
        PytestCheck(hf_checks[0])()
    # the user-template builder needs templates: its check_params supply them
    assert set(check_prompt_builder("template").values()) == {"passed"}
    assert set(check_prompt_builder("template", {"templates": ["[HistoryHere] then [CansHere]"]}).values()) == {"passed"}


def test_a_missing_optional_dependency_skips_instead_of_failing():
    from llara_core.errors import MissingDependencyError
    from llara_core.interfaces import BackboneLoader

    class NeedsWheel(BackboneLoader):
        def load(self):
            raise MissingDependencyError("needs the wheel: pip install it")

    results = check_backbone(NeedsWheel)
    assert results["loads_a_causal_lm"].startswith("skipped:") and "needs the wheel" in results["loads_a_causal_lm"]
    assert results["builds_without_runtime_arguments"] == "passed"


# --------------------------------------------------------------------------- the kit catches broken components
class BagParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dim: int = Field(8, gt=0)
    history_len: int = Field(5, gt=0)
    dropout: float = Field(0.0, ge=0, lt=1)


class Bag(ItemEncoder):
    """A correct bag of items (with a dropout that changes no shape)."""

    Params = BagParams

    def __init__(self, n_items, dim=8, history_len=5, dropout=0.0):
        super().__init__()
        self.n_items, self.dim, self.history_len = n_items, dim, history_len
        self.item_embeddings = nn.Embedding(n_items + 1, dim, padding_idx=n_items)
        self.drop = nn.Dropout(dropout)
        self.scorer = nn.Linear(dim, n_items)

    def embed_items(self, item_ids):
        return self.item_embeddings(item_ids)

    def score(self, history, lengths):
        mask = (torch.arange(history.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
        return self.scorer(self.drop((self.embed_items(history) * mask).sum(1) / lengths[:, None]))


class LeakyBag(Bag):
    """Averages padding too."""

    def score(self, history, lengths):
        return self.scorer(self.embed_items(history).mean(1))

    def embed_items(self, item_ids):
        return self.item_embeddings.weight[item_ids]  # bypasses padding_idx


class Attributeless(Bag):
    """Forgets history_len."""

    def __init__(self, n_items, dim=8, history_len=5, dropout=0.0):
        super().__init__(n_items, dim, history_len, dropout)
        del self.history_len


class LyingBag(Bag):
    """Reports hyper-parameters of its own making."""

    def hyperparameters(self):
        return {"dim": self.dim}


class Float32Projector(Projector):
    """Always answers in float32."""

    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.proj = nn.Linear(in_dim, out_dim)

    def forward(self, x):
        return self.proj(x).float()


class HalfFrozenProjector(Projector):
    """One of its layers does not train."""

    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.a, self.b = nn.Linear(in_dim, out_dim), nn.Linear(out_dim, out_dim)
        self.b.requires_grad_(False)

    def forward(self, x):
        return self.b(self.a(x))


class OnePlaceholder(PromptBuilder):
    """One placeholder for the whole history."""

    def __init__(self, titles):
        self.titles = list(titles)

    n_templates = 1

    def title(self, item_id):
        return self.titles[item_id]

    def build(self, sample, mode, template_index=0):
        items = [*sample.history, *sample.candidates]
        mark = "" if PromptMode(mode) is PromptMode.TEXT else f" {self.placeholder}"
        text = ", ".join(self.title(i) for i in items) + mark
        ids = () if not mark else tuple(items)
        return Prompt(text, ids, None if sample.target is None else self.title(sample.target), template_index)


class CountingCurriculum(CurriculumScheduler):
    """Keeps a counter: not a function of the step."""

    def probability(self, step, total_steps):
        self.calls = getattr(self, "calls", 0) + 1
        return min(1.0, self.calls / 100)


class OverOne(CurriculumScheduler):
    """Not a probability."""

    def probability(self, step, total_steps):
        return 2.0


@pytest.mark.parametrize(("check", "component", "failing"), [
    (check_item_encoder, LeakyBag, "padding_does_not_change_scores"),
    (check_item_encoder, Attributeless, "builds_with_runtime_arguments"),
    (check_item_encoder, LyingBag, "hyperparameters_come_from_params"),
    (check_projector, Float32Projector, "follows_the_dtype"),
    (check_projector, HalfFrozenProjector, "every_parameter_trainable"),
    (check_prompt_builder, OnePlaceholder, "placeholder_count_per_template"),
    (check_curriculum, CountingCurriculum, "pure_function_of_the_step"),
    (check_curriculum, OverOne, "probabilities_in_range"),
], ids=lambda v: getattr(v, "__name__", v))
def test_the_kit_names_the_check_a_broken_component_fails(check, component, failing):
    before = set(SLOTS[CHECKS_SLOT[check]].names())
    with pytest.raises(ConformanceError, match=rf"fails {failing}:") as info:
        check(component)
    assert component.__qualname__ in str(info.value)
    assert isinstance(info.value, AssertionError)
    assert set(SLOTS[CHECKS_SLOT[check]].names()) == before  # the temporary registration is gone


CHECKS_SLOT = {check_item_encoder: "item_encoders", check_projector: "projectors", check_prompt_builder: "prompt_builders",
               check_curriculum: "curriculum_schedulers", check_backbone: "backbones"}


def test_a_correct_encoder_passes_every_check():
    assert set(check_item_encoder(Bag, {"dropout": 0.3}).values()) == {"passed"}


# --------------------------------------------------------------------------- hyper-parameters without private attributes
def test_an_encoder_that_sets_no_private_attribute_saves_and_reloads_its_hyperparameters(tmp_path):
    """Also the params that change no tensor shape: a reload with defaults would be silently wrong."""
    from llara_core.sr.checkpoint import load_item_encoder, save_item_encoder

    ITEM_ENCODERS.register("test-bag", Bag)
    try:
        built = ITEM_ENCODERS.build("test-bag", {"dropout": 0.3, "dim": 6}, n_items=9)
        direct = Bag(9, dim=6, dropout=0.3)  # no registry at all
        for i, enc in enumerate((built, direct)):
            assert not [k for k in vars(enc) if "hparam" in k]
            assert enc.hyperparameters() == {"dim": 6, "history_len": 5, "dropout": 0.3}
            save_item_encoder(enc, "test-bag", tmp_path / str(i))
            loaded, config = load_item_encoder(tmp_path / str(i))
            assert config["params"] == {"dim": 6, "history_len": 5, "dropout": 0.3}
            assert loaded.hyperparameters() == config["params"] and loaded.drop.p == 0.3
    finally:
        ITEM_ENCODERS.unregister("test-bag")


# --------------------------------------------------------------------------- docs/plugins.md, as written
def plugins_md() -> str:
    return PLUGINS_MD.read_text(encoding="utf-8")


def section(title: str) -> str:
    text = plugins_md()
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


BLOCK = re.compile(r"^(?P<label>[^\n]+):\n\n```(?P<lang>\w*)\n(?P<code>.*?)^```", re.M | re.S)


def blocks(title: str) -> list[tuple[str, str, str]]:
    """(label line, language, code) of every fenced block introduced by a line ending in ':'."""
    return [(m["label"], m["lang"], m["code"]) for m in BLOCK.finditer(section(title))]


def named_files(title: str) -> dict[str, str]:
    """{path: code} for blocks introduced by "`path`:" (optionally "`path` (...):")."""
    out = {}
    for label, _, code in blocks(title):
        match = re.fullmatch(r"`([^`]+\.(?:py|toml))`(?: \(.*\))?", label)
        if match:
            out[match[1]] = code
    return out


def entry_points_of(title: str, dist: str) -> dict[str, dict[str, str]]:
    """The entry points of every `pyproject.toml of `dist`` block of a section, merged."""
    groups: dict[str, dict[str, str]] = {}
    for label, lang, code in blocks(title):
        if lang != "toml" or label not in (f"`pyproject.toml` of `{dist}`", "`pyproject.toml`"):
            continue
        group = None  # a minimal reader of [project.entry-points."group"] tables (tomllib is 3.11+)
        for line in code.splitlines():
            header = re.fullmatch(r'\[project\.entry-points\."([^"]+)"\]', line.strip())
            if header or line.startswith("["):
                group = header[1] if header else None
            elif group and "=" in line and not line.lstrip().startswith("#"):
                name, value = (part.strip() for part in line.split("=", 1))
                groups.setdefault(group, {})[name.strip('"')] = value.strip('"')
    return groups


def python_block_after(title: str, marker: str) -> str:
    text = section(title)
    return text.split(marker, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def example_plugin() -> str:
    try:
        return md.version("llara-example-encoder")
    except md.PackageNotFoundError:
        if os.environ.get("LLARA_REQUIRE_DATA", "").strip() in {"1", "true", "yes"}:
            pytest.fail("the example plugin is not installed: pip install tests/plugins/llara-example-encoder")
        pytest.skip("the example plugin is not installed: pip install tests/plugins/llara-example-encoder")


def test_the_docs_show_the_example_plugin_exactly():
    files = named_files("An item encoder, complete")
    assert set(files) == {"pyproject.toml", "llara_example_encoder/__init__.py",
                          "llara_example_encoder/bag_of_items.py", "tests/test_bag_of_items.py"}
    for rel, code in files.items():
        assert (EXAMPLE / rel).read_text(encoding="utf-8") == code, rel
    tree = section("An item encoder, complete").split("```text\n", 1)[1].split("```", 1)[0]
    for rel in files:
        assert Path(rel).name in tree


def test_the_docs_item_encoder_conforms_as_written(fake_distribution):
    code = named_files("An item encoder, complete")["llara_example_encoder/bag_of_items.py"]
    fake_distribution("docs-bag", {"llara.item_encoders": {"docs-bag-of-items": "docs_bag_of_items:BagOfItemsEncoder"}},
                      {"docs_bag_of_items.py": code})
    assert set(check_item_encoder("docs-bag-of-items", {"dim": 8}).values()) == {"passed"}
    assert ITEM_ENCODERS.brief("docs-bag-of-items")["summary"] == "Mean of the history's item embeddings, scored by Linear(dim, n_items)."


def test_the_docs_python_snippet_prints_what_it_says(example_plugin):
    code = python_block_after("An item encoder, complete", "Or from Python:")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/plugins.md", "exec"), {})
    promised = [line.split("#", 1)[1].strip() for line in code.splitlines() if line.startswith("print(")]
    assert out.getvalue().splitlines() == promised


def test_the_docs_sr_train_commands_store_the_hyperparameters(example_plugin, tmp_path, monkeypatch):
    from llara_core.cli.main import main

    text = section("An item encoder, complete")
    commands = text.split("train it and rank it on the persisted candidates like SASRec:", 1)[1]
    commands = commands.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    monkeypatch.chdir(tmp_path)
    for line in commands:
        argv = line.split()
        assert argv[0] == "llara"
        assert main(argv[1:] + ["--threads", "1"] if argv[1] == "sr" else argv[1:]) == 0, line
    config = json.loads((tmp_path / "runs" / "bag" / "config.json").read_text())
    assert config["component"] == "bag_of_items" and config["params"] == {"dim": 16, "history_len": 10}
    assert (config["distribution"], config["version"]) == ("llara-example-encoder", example_plugin)


def install_docs_prompt_builder(fake_distribution) -> None:
    fake_distribution("my-prompts", entry_points_of("A prompt builder", "my-prompts"),
                      {"my_prompts/__init__.py": "", **named_files("A prompt builder")})


def test_the_docs_prompt_builder_builds_and_trains(fake_distribution, llara_world, tmp_path):
    """A prompt builder written exactly as docs/plugins.md says passes the kit, validates, and trains."""
    from llara_core import LLaRA
    from llara_core.config import validate_config
    from llara_core.config.schema import ComponentSpec
    from tests.llara_world import world_config

    install_docs_prompt_builder(fake_distribution)
    assert set(check_prompt_builder("bullets").values()) == {"passed"}
    assert PROMPT_BUILDERS.provider("bullets").distribution == "my-prompts"
    cfg = world_config(llara_world, max_steps=2, batch_size=2)
    cfg = validate_config(cfg.model_copy(update={
        "prompt_builder": ComponentSpec(name="bullets", params={"question": "Next?"})}))
    model = LLaRA.from_config(cfg)
    assert model.prompt_builder.question == "Next?"
    model.fit(tmp_path / "run")
    assert (tmp_path / "run" / "metrics.jsonl").is_file()


def test_the_docs_backbone_and_preset_work_as_written(fake_distribution, tmp_path):
    files = named_files("A backbone")
    fake_distribution("my-llm-plugin", entry_points_of("A backbone", "my-llm-plugin"),
                      {"my_llm_plugin/__init__.py": "", **files})
    folder = tmp_path / "my-lm"
    tiny = BACKBONES.build("tiny-random-llama", {"hidden_size": 32, "num_layers": 1, "intermediate_size": 64}).load()
    tiny.model.save_pretrained(folder)
    tiny.tokenizer.save_pretrained(folder)
    assert set(check_backbone("local-lm", {"folder": str(folder)}).values()) == {"passed"}
    assert BACKBONES.brief("local-lm")["distribution"] == "my-llm-plugin"
    info = BACKBONES.describe("my-lm")
    assert (info["preset_of"], info["distribution"], info["summary"]) == ("hf", "my-llm-plugin", "our 1B model")
    params = BACKBONES.validate_params("my-lm", {"dtype": "bfloat16"})
    assert (params.model, params.local_files_only, params.dtype) == ("/models/my-lm", True, "bfloat16")


def test_the_docs_backbone_validates_without_torch(fake_distribution):
    site = fake_distribution("my-llm-plugin", entry_points_of("A backbone", "my-llm-plugin"),
                             {"my_llm_plugin/__init__.py": "", **named_files("A backbone")})
    code = (
        "import json, sys\n"
        "from llara_core.config.validate import validate_components\n"
        "errors = validate_components({'backbone': {'name': 'local-lm', 'params': {'folder': 'x'}}}, check_paths=False)\n"
        "assert errors == [], errors\n"
        f"print('HEAVY=' + json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    env.pop("LLARA_DISABLE_PLUGIN_AUTOLOAD", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "HEAVY=[]"


FAST_SASREC = '''
from llara_plugins.item_encoders.sasrec import SASRec


class FastSASRec(SASRec):
    """A faster SASRec, same parameters."""
'''


def test_the_docs_override_replaces_the_builtin(fake_distribution):
    fake_distribution("fast-sasrec", entry_points_of("Replacing a built-in", "fast-sasrec"),
                      {"fast_sasrec/__init__.py": "", "fast_sasrec/model.py": FAST_SASREC})
    assert ITEM_ENCODERS.provider("sasrec").distribution == "fast-sasrec"
    assert type(ITEM_ENCODERS.build("sasrec", n_items=4)).__qualname__ == "FastSASRec"
    assert any(s.explicit and s.name == "sasrec" for s in ITEM_ENCODERS.shadowed())


def test_the_docs_contract_table_and_check_table_are_the_codes():
    table = section("The contract of each slot")
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`llara." in line]
    groups = {r.group: r for r in SLOTS.values()}
    assert len(rows) == len(SLOTS)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        registry = groups[cells[1].strip("`")]
        assert cells[2] == f"`llara_core.interfaces.{registry.interface.__name__}`", row
        assert cells[3].startswith(f"`{registry.constructed_as}`"), row
    checks = section("Testing a plugin")
    for slot, entries in CHECKS.items():
        for name, _, _ in entries:
            assert f"`{name}`" in checks, (slot, name)


def test_the_docs_link_to_nothing_outside_the_repository():
    for doc in ("plugins.md", "architecture.md"):
        text = (REPO_ROOT / "docs" / doc).read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text, doc
        for target in re.findall(r"\]\(([^)]+)\)", text):
            if not target.startswith("#"):
                assert (REPO_ROOT / "docs" / target.split("#")[0]).exists(), (doc, target)


def test_the_kit_is_not_imported_by_llara_core():
    code = "import llara_core, llara_core.slots, llara_core.config, sys; print('llara_core.testing' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr
