"""The behaviour-token swap of the evaluation (does the model read the behaviour tokens?)."""

from __future__ import annotations

import numpy as np
import pytest

from llara_core.evaluation.behaviour_swap import behaviour_map, donors, swap_behaviour
from llara_core.interfaces import PromptSample
from llara_core.interfaces.prompt_builder import Prompt


@pytest.mark.parametrize("n", [2, 3, 7, 50])
def test_donors_are_a_seeded_derangement(n):
    d = donors(n, 0)
    assert sorted(d) == list(range(n)) and all(i != j for i, j in enumerate(d))
    assert d == donors(n, 0)
    assert n < 7 or d != donors(n, 1)


def test_history_matched_from_the_most_recent_and_candidates_by_position():
    own = PromptSample((1, 2, 3, 4), (10, 11, 12), 11)
    donor = PromptSample((20, 21), (30, 31, 32), 31)
    m = behaviour_map(own, donor)
    assert [m[i] for i in (4, 3, 2, 1)] == [21, 20, 21, 20]  # a shorter history is cycled
    assert [m[i] for i in (10, 11, 12)] == [30, 31, 32]


def test_swap_keeps_the_text_and_takes_another_samples_items():
    samples = [PromptSample((i, i + 1), (100 + i, 200 + i), 100 + i) for i in range(5)]
    prompts = [Prompt(f"text {i}", (s.history[0], s.history[1], *s.candidates), "t") for i, s in enumerate(samples)]
    out = swap_behaviour(prompts, samples, seed=3)
    d = donors(5, 3)
    for i, (before, after) in enumerate(zip(prompts, out)):
        assert after.text == before.text and after.target == before.target
        assert after.item_ids == prompts[d[i]].item_ids


def test_swapped_tokens_change_hybrid_scores_and_leave_text_only_scores_alone(llara_world, tmp_path):
    """On the tiny trained world model, through the evaluation engine and the model's scorer."""
    from rich.console import Console

    from llara_core.data import Dataset, ensure_candidates
    from llara_core.evaluation.candidate_scoring import samples_with_candidates, score_shards
    from llara_core.evaluation.engine import evaluate
    from llara_core.interfaces import PromptMode
    from llara_core.model.compose import load_run
    from llara_core.training.run import train
    from tests.llara_world import world_config

    train(world_config(llara_world, max_steps=2), tmp_path / "run", Console(quiet=True))
    model, data = load_run(tmp_path / "run", "last"), Dataset.load(llara_world["data"])
    cands, _ = ensure_candidates(data, "test", 6, 0)
    samples = samples_with_candidates(data, "test", cands, list(range(6)))
    titles = [[model.prompt_builder.title(c) for c in s.candidates] for s in samples]

    def scores(mode: PromptMode, swap: bool) -> np.ndarray:
        prompts = model.build_prompts(samples, mode)
        return np.stack(score_shards(model, swap_behaviour(prompts, samples, 0) if swap else prompts, titles, False, None))

    np.testing.assert_array_equal(scores(PromptMode.TEXT, False), scores(PromptMode.TEXT, True))
    assert np.abs(scores(PromptMode.HYBRID, False) - scores(PromptMode.HYBRID, True)).max() > 1e-4
    r = evaluate(model, data, "test", (0,), "score", 6, "hybrid", limit=6, n_boot=10, swap_behaviour=True)
    assert r["behaviour_swap"] is True and r["samples"] == 6
