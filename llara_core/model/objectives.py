"""Training objectives over a sample's N candidates (beyond the paper's answer-token loss).

``listwise``: softmax cross-entropy over the N candidates' answer log-likelihoods, the true item
as the label: ``-log softmax(s)[target]`` with ``s_c`` the (by default length-normalised)
log-likelihood of candidate c's title as the answer. This is the supervised core of Softmax-DPO
(S-DPO, Chen et al., NeurIPS 2024, by LLaRA's group), which ranks the preferred item against
several negatives; S-DPO adds a frozen reference model and a temperature, which are left out
here. ``lm+listwise`` adds LLaRA's answer-token loss of the true item, read from the same
forward pass. All N candidates of a sample go through one forward (:mod:`llara_core.model.scoring`).

Called by ``LLaRA.forward`` when it receives a :class:`CandidateBatch` (so Fabric's wrappers,
autocast and DDP hooks apply as for the LM loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from llara_core.errors import LlaraError
from llara_core.interfaces import Prompt
from llara_core.model.scoring import candidate_log_likelihoods

if TYPE_CHECKING:
    from llara_core.model.llara import LLaRA


class CandidateBatch:
    """B prompts, each with its candidates' titles and the index of the true one.

    ``lm_weight`` and ``listwise_weight`` weigh the two terms (lm: mean negative log-likelihood
    per answer token of the true items; listwise: mean cross-entropy per sample). A plain class,
    not a dataclass: Fabric's precision plugins walk dataclass inputs to cast their tensors, and
    this batch holds prompts (text), not tensors.
    """

    def __init__(
        self,
        prompts: Sequence[Prompt],
        titles: Sequence[Sequence[str]],
        targets: Sequence[int],
        lm_weight: float = 0.0,
        listwise_weight: float = 1.0,
        length_normalise: bool = True,
    ):
        self.prompts, self.titles, self.targets = list(prompts), [list(t) for t in titles], list(targets)
        self.lm_weight, self.listwise_weight, self.length_normalise = lm_weight, listwise_weight, length_normalise
        self.n_tokens = 0  # real tokens of the packed pass, set by candidate_objective

    @classmethod
    def for_objective(cls, objective: str, prompts, titles, targets, weight: float = 1.0, length_normalise: bool = True) -> CandidateBatch:
        if objective not in ("listwise", "lm+listwise"):
            raise LlaraError(f"training.objective {objective!r} does not score candidates")
        lm = 1.0 if objective == "lm+listwise" else 0.0
        return cls(prompts, titles, targets, lm_weight=lm, listwise_weight=weight, length_normalise=length_normalise)


def candidate_objective(model: LLaRA, batch: CandidateBatch) -> torch.Tensor:
    """The weighted loss of ``batch`` (scalar, differentiable)."""
    if len(batch.targets) != len(batch.prompts):
        raise LlaraError(f"{len(batch.prompts)} prompts but {len(batch.targets)} targets")
    stats: dict[str, int] = {}
    sums = candidate_log_likelihoods(model, batch.prompts, batch.titles, length_normalise=False, rows_per_pass=len(batch.prompts), max_tokens=None, stats=stats)
    batch.n_tokens = stats["tokens"]
    tok = model.prompt_tokenizer
    loss = sums[0].new_zeros(())
    if batch.listwise_weight:
        ce = []
        for s, group, t in zip(sums, batch.titles, batch.targets):
            if batch.length_normalise:
                s = s / torch.tensor([len(tok.answer_ids(x)) for x in group], dtype=s.dtype, device=s.device)
            ce.append(torch.logsumexp(s, 0) - s[t])
        loss = loss + batch.listwise_weight * torch.stack(ce).mean()
    if batch.lm_weight:
        n = sum(len(tok.answer_ids(group[t])) for group, t in zip(batch.titles, batch.targets))
        loss = loss + batch.lm_weight * -torch.stack([s[t] for s, t in zip(sums, batch.targets)]).sum() / n
    return loss
