"""Pack a prompt and its N candidate answers into one sequence scored by a single forward pass.

Layout of one row: ``[prompt][answer_1][answer_2]...[answer_k][padding]`` (right-padded), where
each answer enters without its last token: that token is only ever predicted, never needed as
an input (a one-token answer adds no input at all). The attention pattern is given as a 4D mask: prompt tokens attend causally among themselves; a token
of answer i attends to the whole prompt and to the earlier tokens of answer i only; padding
attends to itself (so no softmax row is empty). Position ids restart after the prompt for every
answer, so each answer is computed exactly as if it followed the prompt alone.

Only the positions that predict an answer token are kept for the vocabulary projection: the
last prompt token (it predicts every answer's first token) and each answer's input tokens. A gather table maps each (kept position, next token) pair to its candidate, so a
candidate's log-likelihood is an ``index_add`` over the table.

Pure tensor bookkeeping: no model here. Called by :mod:`llara_core.model.scoring`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

PAD_SEGMENT = -1
PROMPT_SEGMENT = 0


@dataclass
class PackedRows:
    """R packed rows of width T.

    ``keep`` marks the K positions whose next-token distribution is needed (row-major order is
    the order of the flattened logits). ``gather_pos`` (E,) indexes those K positions,
    ``gather_token`` (E,) is the token whose log-probability is read there, and
    ``gather_candidate`` (E,) the global candidate index it adds to.
    """

    input_ids: torch.Tensor  # (R, T) long
    position_ids: torch.Tensor  # (R, T) long
    segments: torch.Tensor  # (R, T) long: -1 pad, 0 prompt, i >= 1 the row's i-th answer
    keep: torch.Tensor  # (R, T) bool
    gather_pos: torch.Tensor  # (E,) long, in 0..K-1
    gather_token: torch.Tensor  # (E,) long
    gather_candidate: torch.Tensor  # (E,) long
    row_prompt: list[int]  # (R,) index of the prompt each row belongs to

    @property
    def n_tokens(self) -> int:
        return int((self.segments != PAD_SEGMENT).sum())

    def to(self, device: torch.device | str) -> PackedRows:
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return PackedRows(**{k: v.to(device) if torch.is_tensor(v) else v for k, v in fields.items()})


def attention_mask_4d(segments: torch.Tensor) -> torch.Tensor:
    """``(R, 1, T, T)`` bool mask (True = may attend) for packed ``segments`` ``(R, T)``."""
    T = segments.shape[1]
    q = segments[:, :, None]
    k = segments[:, None, :]
    causal = torch.ones(T, T, dtype=torch.bool, device=segments.device).tril()
    allowed = causal & (q != PAD_SEGMENT) & (k != PAD_SEGMENT) & ((k == PROMPT_SEGMENT) | (k == q))
    allowed = allowed | (torch.eye(T, dtype=torch.bool, device=segments.device) & (q == PAD_SEGMENT))
    return allowed[:, None]


def plan_rows(prompt_len: int, answer_lens: Sequence[int], max_tokens: int | None) -> list[list[int]]:
    """Split one prompt's answers into consecutive groups, each fitting with the prompt into
    ``max_tokens`` input tokens (None: one group; an answer of n tokens takes n - 1). An answer
    longer than the budget still gets a row."""
    if max_tokens is None:
        return [list(range(len(answer_lens)))]
    groups: list[list[int]] = [[]]
    used = prompt_len
    for i, n in enumerate(answer_lens):
        n = n - 1
        if groups[-1] and used + n > max_tokens:
            groups.append([])
            used = prompt_len
        groups[-1].append(i)
        used += n
    return groups


def plan_passes(
    prompts: Sequence[Sequence[int]],
    answers: Sequence[Sequence[Sequence[int]]],
    max_tokens: int | None = None,
) -> tuple[list[tuple[int, list[int]]], list[int]]:
    """The row plan: ``[(prompt index, [global candidate indices])]`` and each prompt's first
    global candidate index (candidates are numbered prompt by prompt)."""
    plan, offsets, start = [], [], 0
    for p, (prompt, group) in enumerate(zip(prompts, answers)):
        offsets.append(start)
        for chunk in plan_rows(len(prompt), [len(a) for a in group], max_tokens):
            plan.append((p, [start + i for i in chunk]))
        start += len(group)
    return plan, offsets


def build_rows(
    prompts: Sequence[Sequence[int]],
    answers: Sequence[Sequence[Sequence[int]]],
    rows: Sequence[tuple[int, Sequence[int]]],
    offsets: Sequence[int],
    pad_id: int,
) -> PackedRows:
    """Tensors for the planned ``rows`` (a slice of :func:`plan_passes`' plan)."""
    seqs, segs, poss, row_prompt = [], [], [], []
    gather: list[tuple[int, int, int, int]] = []  # (row, position, token, candidate)
    for r, (p, cands) in enumerate(rows):
        prompt = list(prompts[p])
        lp = len(prompt)
        seq, seg, pos = list(prompt), [PROMPT_SEGMENT] * lp, list(range(lp))
        for local, c in enumerate(cands, start=1):
            ans = list(answers[p][c - offsets[p]])
            start = len(seq)
            gather.append((r, lp - 1, ans[0], c))
            gather.extend((r, start + j, ans[j + 1], c) for j in range(len(ans) - 1))
            seq += ans[:-1]
            seg += [local] * (len(ans) - 1)
            pos += list(range(lp, lp + len(ans) - 1))
        seqs.append(seq)
        segs.append(seg)
        poss.append(pos)
        row_prompt.append(p)
    width = max(len(s) for s in seqs)
    R = len(seqs)
    input_ids = torch.full((R, width), pad_id, dtype=torch.long)
    segments = torch.full((R, width), PAD_SEGMENT, dtype=torch.long)
    position_ids = torch.zeros((R, width), dtype=torch.long)
    for r, (s, g, q) in enumerate(zip(seqs, segs, poss)):
        input_ids[r, : len(s)] = torch.tensor(s)
        segments[r, : len(g)] = torch.tensor(g)
        position_ids[r, : len(q)] = torch.tensor(q)
    g = torch.tensor(gather, dtype=torch.long).view(-1, 4)
    keep = torch.zeros((R, width), dtype=torch.bool)
    keep[g[:, 0], g[:, 1]] = True
    flat_index = keep.view(-1).long().cumsum(0) - 1  # position in the flattened kept logits
    gather_pos = flat_index[g[:, 0] * width + g[:, 1]]
    return PackedRows(input_ids, position_ids, segments, keep, gather_pos, g[:, 2], g[:, 3], row_prompt)
