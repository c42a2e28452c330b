"""The Python API: compose with a custom projector, fit, recommend, reload; prompt builders."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from llara_core import PROJECTORS, LLaRA, Projector, PromptMode, PromptSample
from llara_core.config import apply_overrides, validate_config
from llara_core.errors import ConfigError
from llara_core.slots import PROMPT_BUILDERS
from tests.llara_world import world_config


class GatedProjector(Projector):
    """Linear map scaled by a learned sigmoid gate."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.proj, self.gate = nn.Linear(in_dim, out_dim), nn.Linear(in_dim, out_dim)

    def forward(self, x):
        return self.proj(x) * torch.sigmoid(self.gate(x))


@pytest.fixture
def gated():
    PROJECTORS.register("test-gated", GatedProjector)
    yield "test-gated"
    PROJECTORS.unregister("test-gated")


def test_custom_projector_fit_recommend_reload(llara_world, tmp_path, gated):
    raw = world_config(llara_world, max_steps=3).model_dump(mode="json")
    cfg = validate_config(apply_overrides(raw, [f"projector.name={gated}", "projector.params={}"]))
    model = LLaRA.from_config(cfg)
    assert isinstance(model.projector, GatedProjector)
    assert model.projector.out_dim == model.hidden_size == 32  # sizes come from the parts
    summary = model.fit(tmp_path / "run")
    assert summary["global_step"] == 3
    ranked = model.recommend(history=[3, 17, 42], candidates=[5, 8, 13, 21, 34, 50])
    assert sorted(i for i, _ in ranked) == [5, 8, 13, 21, 34, 50]
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)
    again = LLaRA.load(tmp_path / "run").recommend(history=[3, 17, 42], candidates=[5, 8, 13, 21, 34, 50])
    assert [i for i, _ in again] == [i for i, _ in ranked]
    assert [s for _, s in again] == pytest.approx(scores, abs=1e-4)


def test_llara_templates_per_domain_fill_the_candidate_count():
    titles = [f"Title {i}" for i in range(30)]
    sample = PromptSample((1, 2), tuple(range(3, 23)), 5)
    for domain, word in (("movie", "movie"), ("music", "artist"), ("game", "game")):
        builder = PROMPT_BUILDERS.build("llara", {}, titles=titles, dataset_domain=domain)
        assert builder.n_templates == 3
        texts = [builder.build(sample, PromptMode.TEXT, k).text for k in range(3)]
        assert all(word in t for t in texts)
        assert not any("10 " in t for t in texts)  # the reference says "10 titles" for 20 candidates
        assert any("20 " in t for t in texts)


def test_prompt_modes_render_items_and_ids_in_text_order():
    titles = [f"T{i}" for i in range(30)]
    builder = PROMPT_BUILDERS.build("llara", {}, titles=titles, dataset_domain="movie")
    s = PromptSample((1, 2), (3, 4, 5), 4)
    text = builder.build(s, PromptMode.TEXT)
    hybrid = builder.build(s, PromptMode.HYBRID)
    behaviour = builder.build(s, PromptMode.BEHAVIOUR)
    assert text.item_ids == () and "[ItemEmb]" not in text.text and "T1, T2" in text.text
    assert hybrid.item_ids == (1, 2, 3, 4, 5) and "T1 [ItemEmb], T2 [ItemEmb]" in hybrid.text
    assert behaviour.item_ids == (1, 2, 3, 4, 5) and "T1" not in behaviour.text
    assert behaviour.text.count("[ItemEmb]") == 5
    assert text.target == hybrid.target == "T4"


def test_user_templates_are_validated(llara_world, tmp_path):
    raw = world_config(llara_world).model_dump(mode="json")
    raw["prompt_builder"] = {"name": "template", "params": {"templates": ["History: [HistoryHere]. Pick one:"]}}
    with pytest.raises(ConfigError, match=r"prompt_builder\.params.*\[CansHere\]"):
        validate_config(raw)
    f = tmp_path / "t.txt"
    f.write_text("Seen: [HistoryHere]. Options ([CansNum]): [CansHere]. Next:\n")
    raw["prompt_builder"] = {"name": "template", "params": {"file": str(f)}}
    model = LLaRA.from_config(validate_config(raw))
    p = model.build_prompts([PromptSample((1,), (2, 3), 3)], PromptMode.HYBRID)[0]
    assert p.text.startswith("Seen: ") and "Options (2): " in p.text and p.item_ids == (1, 2, 3)
