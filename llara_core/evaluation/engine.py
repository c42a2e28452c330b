"""Evaluate a LLaRA model on persisted candidate sets: generation and/or likelihood scoring,
over several candidate seeds, with intervals, position bias and per-sample outputs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from llara_core.data import Dataset, ensure_candidates
from llara_core.distributed import sharded_map
from llara_core.errors import LlaraError
from llara_core.evaluation.behaviour_swap import swap_behaviour as swap_behaviour_of
from llara_core.evaluation.candidate_scoring import samples_with_candidates, score_shards
from llara_core.evaluation.matching import match_answer
from llara_core.evaluation.metrics import metrics_from_scores
from llara_core.evaluation.stats import bootstrap_ci, over_seeds, report
from llara_core.interfaces import PromptMode, PromptSample

if TYPE_CHECKING:
    from llara_core.model.llara import LLaRA

SCORING_METRICS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "mrr")
GENERATION_METRICS = ("valid_ratio", "hr@1", "hr@1_valid", "reference_valid_ratio", "reference_hr@1", "ambiguous")


def shuffled(samples: Sequence[PromptSample], seed: int, shuffle: int) -> list[PromptSample]:
    """The same candidates in another order (shuffle 0 = the persisted order)."""
    if shuffle == 0:
        return list(samples)
    out = []
    for i, s in enumerate(samples):
        rng = np.random.default_rng([seed, shuffle, i, 0x5EED])
        order = rng.permutation(len(s.candidates)).tolist()
        out.append(PromptSample(s.history, tuple(s.candidates[j] for j in order), s.target))
    return out


def _generation_per_sample(answers: list[str], samples: list[PromptSample], titles: list[list[str]]) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    valid, correct, ref_valid, ref_correct, ambiguous, rows = [], [], [], [], [], []
    for ans, s, t in zip(answers, samples, titles):
        m = match_answer(ans, t)
        target = list(s.candidates).index(s.target)
        valid.append(float(m.valid))
        correct.append(float(m.choice == target))
        ref_valid.append(float(m.reference_valid))
        ref_correct.append(float(m.reference_choice == target))
        ambiguous.append(float(m.ambiguous))
        rows.append({"answer": ans, "choice": None if m.choice is None else int(s.candidates[m.choice]), "valid": m.valid, "correct": m.choice == target, "reference_valid": m.reference_valid, "ambiguous": m.ambiguous})
    per = {
        "valid": np.array(valid),
        "hr@1": np.array(correct),
        "reference_valid": np.array(ref_valid),
        "reference_hr@1": np.array(ref_correct),
        "ambiguous": np.array(ambiguous),
    }
    return per, rows


def generation_summary(per_seed: list[dict[str, np.ndarray]], n_boot: int = 2000) -> dict[str, dict[str, float]]:
    """ValidRatio, HR@1 over all, HR@1 over valid (and the reference rule's) per seed, mean and
    spread over seeds, and bootstrap intervals of the seed-averaged per-sample values."""
    table: dict[str, list[float]] = {k: [] for k in GENERATION_METRICS}
    for per in per_seed:
        n_valid = per["valid"].sum()
        table["valid_ratio"].append(per["valid"].mean())
        table["hr@1"].append(per["hr@1"].mean())
        table["hr@1_valid"].append(per["hr@1"].sum() / n_valid if n_valid else 0.0)
        table["reference_valid_ratio"].append(per["reference_valid"].mean())
        table["reference_hr@1"].append(per["reference_hr@1"].mean())
        table["ambiguous"].append(per["ambiguous"].sum())
    out = {}
    averaged = {k: np.mean([p[k] for p in per_seed], axis=0) for k in ("valid", "hr@1", "reference_valid", "reference_hr@1")}
    ci_source = {"valid_ratio": "valid", "hr@1": "hr@1", "reference_valid_ratio": "reference_valid", "reference_hr@1": "reference_hr@1"}
    for k, values in table.items():
        v = np.asarray(values, dtype=float)
        entry = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "min": float(v.min()), "max": float(v.max()), "seeds": len(v)}
        if k in ci_source:
            entry["ci_low"], entry["ci_high"] = bootstrap_ci(averaged[ci_source[k]], n_boot=n_boot)
        out[k] = entry
    return out


def position_bias(per_seed_hits: list[np.ndarray], per_seed_pos: list[list[int]], n: int) -> dict[str, Any]:
    """Hit rate by the target's position in the candidate list (pooled over seeds)."""
    hits = np.concatenate(per_seed_hits)
    pos = np.concatenate([np.asarray(p) for p in per_seed_pos])
    return {"hit_rate": [float(hits[pos == k].mean()) if (pos == k).any() else None for k in range(n)], "count": [int((pos == k).sum()) for k in range(n)]}


def evaluate(
    model: LLaRA,
    dataset: Dataset,
    split: str = "test",
    seeds: Sequence[int] = (0,),
    mode: str = "both",
    n_candidates: int = 20,
    prompt_mode: PromptMode | str | None = None,
    batch_size: int = 8,
    max_new_tokens: int = 64,
    length_normalise: bool = False,
    shuffles: int = 1,
    template_index: int = 0,
    limit: int | None = None,
    n_boot: int = 2000,
    progress: Any = None,
    fabric: Any = None,
    swap_behaviour: bool = False,
) -> dict[str, Any]:
    """Evaluate ``model`` on ``split`` for every candidate seed (and ``shuffles`` orders of each
    candidate list). Returns summaries, per-seed metrics, per-sample values and rows.

    With ``fabric`` over several ranks, every rank scores and generates for its shard of the
    samples and gets everyone's results (each sample exactly once), so the result equals a
    single-process evaluation on every rank (:mod:`llara_core.distributed`). With
    ``swap_behaviour`` every sample's behaviour tokens are another sample's (same titles;
    :mod:`llara_core.evaluation.behaviour_swap`): the drop against a plain evaluation is what the
    model reads from them."""
    from llara_core.model.artefact import check_dataset

    if mode not in ("generate", "score", "both"):
        raise LlaraError(f"mode must be generate, score or both, got {mode!r}")
    check_dataset(model, dataset)
    prompt_mode = PromptMode(prompt_mode) if prompt_mode is not None else model.default_mode()
    n_total = len(dataset.split(split))
    indices = list(range(n_total if limit is None else min(limit, n_total)))
    result: dict[str, Any] = {"split": split, "n_candidates": n_candidates, "seeds": list(seeds), "shuffles": shuffles, "prompt_mode": prompt_mode.value, "template_index": template_index, "samples": len(indices), "behaviour_swap": swap_behaviour, "length_normalise": length_normalise, "candidate_sha256": {}}
    scoring, generation, rows = [], [], []
    s_hits, s_pos, g_hits, g_pos = [], [], [], []
    timing = {"score_s": 0.0, "generate_s": 0.0}
    for seed in seeds:
        cands, digest = ensure_candidates(dataset, split, n_candidates, seed)
        result["candidate_sha256"][str(seed)] = digest
        base = samples_with_candidates(dataset, split, cands, indices)
        for sh in range(shuffles):
            samples = shuffled(base, seed, sh)
            prompts = model.build_prompts(samples, prompt_mode, template_index)
            if swap_behaviour:
                prompts = swap_behaviour_of(prompts, samples, seed)
            titles = [[model.prompt_builder.title(c) for c in s.candidates] for s in samples]
            target_pos = [list(s.candidates).index(s.target) for s in samples]
            seed_rows = [{"seed": seed, "shuffle": sh, "index": i, "target": s.target, "target_pos": p} for i, s, p in zip(indices, samples, target_pos)]
            if mode in ("score", "both"):
                t0 = time.perf_counter()
                scores = np.stack(score_shards(model, prompts, titles, length_normalise, fabric))
                timing["score_s"] += time.perf_counter() - t0
                per = metrics_from_scores(scores, target_pos)
                scoring.append(per)
                s_hits.append(per["hr@1"])
                s_pos.append(target_pos)
                for r, sc, p, s in zip(seed_rows, scores, target_pos, samples):
                    r["score_rank"] = int((sc > sc[p]).sum())
                    r["score_top"] = int(s.candidates[int(np.argmax(sc))])
            if mode in ("generate", "both"):
                t0 = time.perf_counter()
                answers = sharded_map(fabric, len(prompts), lambda idx, prompts=prompts: model.generate([prompts[i] for i in idx], max_new_tokens, batch_size))
                timing["generate_s"] += time.perf_counter() - t0
                per, gen_rows = _generation_per_sample(answers, samples, titles)
                generation.append(per)
                g_hits.append(per["hr@1"])
                g_pos.append(target_pos)
                for r, g in zip(seed_rows, gen_rows):
                    r.update(g)
            rows.extend(seed_rows)
            if progress is not None:
                progress()
    runs = len(seeds) * shuffles
    if scoring:
        result["scoring"] = {
            "summary": over_seeds(scoring, n_boot=n_boot),
            "per_seed": [report(p, n_boot=n_boot) for p in scoring],
            "position_bias": position_bias(s_hits, s_pos, n_candidates),
            "seconds_per_sample": timing["score_s"] / (runs * len(indices)),
        }
    if generation:
        result["generation"] = {
            "summary": generation_summary(generation, n_boot=n_boot),
            "position_bias": position_bias(g_hits, g_pos, n_candidates),
            "seconds_per_sample": timing["generate_s"] / (runs * len(indices)),
        }
    result["per_sample"] = {
        "scoring": [{k: v.round(6).tolist() for k, v in p.items()} for p in scoring],
        "generation": [{k: v.tolist() for k, v in p.items()} for p in generation],
    }
    result["rows"] = rows
    return result
