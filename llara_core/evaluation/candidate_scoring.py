"""Rank the persisted candidates of a split with the LLM's likelihood scores."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from llara_core.data import Dataset, ensure_candidates
from llara_core.distributed import sharded_map
from llara_core.evaluation.metrics import metrics_from_scores
from llara_core.interfaces import PromptMode, PromptSample

if TYPE_CHECKING:
    from llara_core.model.llara import LLaRA


@dataclass
class ScoredSplit:
    """Scores ``(S, N)`` of S samples' N candidates, with per-sample metrics."""

    indices: list[int]
    candidates: list[list[int]]
    target_pos: list[int]
    scores: np.ndarray
    per_sample: dict[str, np.ndarray]
    candidates_sha256: str


def samples_with_candidates(dataset: Dataset, split: str, candidates: list[list[int]], indices: list[int], history_len: int = 10) -> list[PromptSample]:
    data = dataset.split(split)
    return [PromptSample(tuple(data.histories[i][-history_len:]), tuple(candidates[i]), data.targets[i]) for i in indices]


def score_split(
    model: LLaRA,
    dataset: Dataset,
    split: str,
    n_candidates: int,
    seed: int,
    mode: PromptMode | str,
    limit: int | None = None,
    length_normalise: bool = False,
    template_index: int = 0,
    fabric: Any = None,
    forward: Any = None,
) -> ScoredSplit:
    """Score every candidate of the first ``limit`` samples (all by default) of ``split``.

    With ``fabric`` over several ranks, each rank scores its shard and every rank gets all
    scores (:mod:`llara_core.distributed`); ``forward`` (the strategy-wrapped model) then runs the
    passes, as FSDP needs.
    """
    cands, sha = ensure_candidates(dataset, split, n_candidates, seed)
    n = len(dataset.split(split))
    indices = list(range(n if limit is None else min(limit, n)))
    samples = samples_with_candidates(dataset, split, cands, indices)
    prompts = model.build_prompts(samples, PromptMode(mode), template_index)
    titles = [[model.prompt_builder.title(c) for c in s.candidates] for s in samples]
    scores = np.stack(score_shards(model, prompts, titles, length_normalise, fabric, forward))
    target_pos = [list(s.candidates).index(s.target) for s in samples]
    return ScoredSplit(indices, [cands[i] for i in indices], target_pos, scores, metrics_from_scores(scores, target_pos), sha)


def score_shards(model: LLaRA, prompts: Sequence[Any], titles: Sequence[Sequence[str]], length_normalise: bool = False, fabric: Any = None, forward: Any = None) -> list[np.ndarray]:
    """Every prompt's candidate scores, this rank's shard computed here (through ``forward``
    when given), all ranks' gathered in order."""

    def compute(idx: list[int]) -> list[np.ndarray]:
        p, t = [prompts[i] for i in idx], [titles[i] for i in idx]
        if forward is None:
            return model.score_candidates(p, t, length_normalise)
        import torch

        from llara_core.model.scoring import ScoreRequest

        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                return [s.float().cpu().numpy() for s in forward(ScoreRequest(p, t, length_normalise))]
        finally:
            model.train(was_training)

    return sharded_map(fabric, len(prompts), compute)
