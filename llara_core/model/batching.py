"""Turn built prompts into token batches: chat or plain formatting, answer spans, left padding.

Prompt and answer are tokenised separately and concatenated, so the label span is exact for any
tokenizer (no off-by-one from tokenising the pair together). Batches are left-padded with
explicit ``position_ids`` (positions count real tokens only), so a sample's computation does not
depend on what else is in its batch.

``max_length`` is the backbone's context (``max_position_embeddings`` / ``n_positions``, see
:func:`context_length`): ``LLaRA.build_prompts`` drops the oldest history items of a prompt
that would not fit with its longest answer (:meth:`PromptTokenizer.fits`), and ``encode``
refuses a row that is still longer, naming it, instead of failing inside the backbone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from llara_core.errors import DataError, LlaraError
from llara_core.interfaces import Prompt

IGNORE = -100
#: config attributes that hold a backbone's context length, in the order they are tried
CONTEXT_ATTRIBUTES = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")


def context_length(llm: Any) -> int | None:
    """The most positions ``llm`` reads (from its config), or None when it does not say."""
    config = getattr(llm, "config", None)
    for name in CONTEXT_ATTRIBUTES:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


@dataclass
class TokenBatch:
    """Token tensors of B prompts (optionally followed by their answers), left-padded to T.

    ``item_ids`` (M,) lists the items behind the placeholders row-major; ``labels`` is IGNORE
    everywhere but the answer tokens; ``prompt_lengths`` counts real prompt tokens per sample.
    """

    input_ids: torch.Tensor  # (B, T) long
    attention_mask: torch.Tensor  # (B, T) long
    position_ids: torch.Tensor  # (B, T) long
    item_ids: torch.Tensor  # (M,) long
    labels: torch.Tensor | None = None  # (B, T) long
    prompt_lengths: torch.Tensor | None = None  # (B,) long

    def to(self, device: torch.device | str) -> TokenBatch:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return TokenBatch(*(move(getattr(self, f)) for f in self.__dataclass_fields__))

    @property
    def n_tokens(self) -> int:
        return int(self.attention_mask.sum())


def positions_from_mask(mask: torch.Tensor, offset: torch.Tensor | int = 0) -> torch.Tensor:
    """Position ids counting real tokens (0 at the first real one); padding gets 0."""
    pos = mask.long().cumsum(-1) - 1
    if not isinstance(offset, int):
        offset = offset.view(-1, *([1] * (mask.dim() - 1)))
    return (pos.clamp(min=0) + offset) * mask.long()


class PromptTokenizer:
    """Formats and tokenises prompts and answers for one backbone.

    Plain backbones see ``prompt`` then the answer ``" " + title + terminator`` (the leading
    space belongs to the answer, as byte-level BPE tokenizers expect). Chat backbones see the
    prompt as a user message with the assistant turn opened, then ``title + terminator``.

    ``system_prompt`` (chat backbones only): ``""`` = no system text, in the fewest tokens the
    chat template allows (SmolLM2's template, for one, adds its own 31-token default system
    prompt when no system message is given; an empty one replaces it); ``None`` = whatever
    the template does without a system message; any other text = that system message.
    Training and evaluation of one model use the same value (it is a backbone param).
    """

    def __init__(
        self,
        tokenizer: Any,
        placeholder_id: int,
        use_chat_template: bool,
        terminator: str = "\n",
        system_prompt: str | None = "",
        max_length: int | None = None,
    ):
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.placeholder_id = placeholder_id
        self.use_chat_template = use_chat_template
        self.terminator = terminator
        self.system_prompt = system_prompt
        self.pad_id = tokenizer.pad_token_id
        self._answers: dict[str, list[int]] = {}
        self._messages_with_empty_system: bool | None = None

    def _chat(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _messages(self, text: str) -> list[dict[str, str]]:
        user = [{"role": "user", "content": text}]
        if self.system_prompt is None:
            return user
        if self.system_prompt:
            return [{"role": "system", "content": self.system_prompt}, *user]
        if self._messages_with_empty_system is None:  # decided once: which form is shorter
            probe = "x"
            plain = len(self.tokenizer(self._chat([{"role": "user", "content": probe}]), add_special_tokens=False).input_ids)
            try:
                empty = len(self.tokenizer(self._chat([{"role": "system", "content": ""}, {"role": "user", "content": probe}]), add_special_tokens=False).input_ids)
            except Exception:  # a template without a system role
                empty = plain + 1
            self._messages_with_empty_system = empty < plain
        return [{"role": "system", "content": ""}, *user] if self._messages_with_empty_system else user

    def prompt_text(self, text: str) -> str:
        """The prompt as the backbone reads it (chat-formatted when the backbone uses a template)."""
        return self._chat(self._messages(text)) if self.use_chat_template else text

    def prompt_ids(self, text: str) -> list[int]:
        if self.use_chat_template:
            return self.tokenizer(self.prompt_text(text), add_special_tokens=False).input_ids
        return self.tokenizer(text, add_special_tokens=True).input_ids

    def prompt_length_bound(self, text: str) -> int:
        """An upper bound on ``len(prompt_ids(text))`` without tokenising: every token of a
        byte-level or byte-fallback tokenizer covers at least one byte, plus a few added
        special tokens (BOS, a SentencePiece prefix)."""
        return len(self.prompt_text(text).encode("utf-8")) + 4

    def fits(self, text: str, answer_tokens: int) -> bool:
        """Whether the prompt ``text`` plus ``answer_tokens`` answer tokens fit ``max_length``
        (exact tokenisation only when the cheap bound says it might not)."""
        if self.max_length is None:
            return True
        room = self.max_length - answer_tokens
        return self.prompt_length_bound(text) <= room or len(self.prompt_ids(text)) <= room

    def answer_text(self, title: str) -> str:
        return (title if self.use_chat_template else " " + title) + self.terminator

    def answer_ids(self, title: str) -> list[int]:
        """Token ids of ``title`` as an answer (memoised: titles repeat across prompts)."""
        ids = self._answers.get(title)
        if ids is None:
            ids = self.tokenizer(self.answer_text(title), add_special_tokens=False).input_ids
            if not ids:
                raise LlaraError(f"the answer text of title {title!r} has no tokens")
            self._answers[title] = ids
        return list(ids)

    def _check(self, ids: list[int], prompt: Prompt, row: int) -> None:
        n = sum(1 for t in ids if t == self.placeholder_id)
        if n != len(prompt.item_ids):
            raise LlaraError(
                f"prompt {row}: {n} placeholder tokens for {len(prompt.item_ids)} items "
                f"(does a title contain the placeholder text?): {prompt.text[:80]!r}"
            )

    def checked_prompt_ids(self, prompt: Prompt, row: int = 0) -> list[int]:
        """Token ids of ``prompt``; LlaraError when its placeholders do not match its items."""
        ids = self.prompt_ids(prompt.text)
        self._check(ids, prompt, row)
        return ids

    def encode(self, prompts: Sequence[Prompt], with_answers: bool) -> TokenBatch:
        """Left-padded batch of prompts; with ``with_answers`` the answer tokens follow each
        prompt and are the only labelled positions."""
        rows, labels, prompt_lens = [], [], []
        for i, p in enumerate(prompts):
            ids = self.checked_prompt_ids(p, i)
            prompt_lens.append(len(ids))
            lab = [IGNORE] * len(ids)
            if with_answers:
                if p.target is None:
                    raise LlaraError(f"prompt {i}: training needs a target")
                ans = self.answer_ids(p.target)
                ids = ids + ans
                lab = lab + ans
            if self.max_length is not None and len(ids) > self.max_length:
                raise DataError(
                    f"prompt {i}: {len(ids)} tokens{' with its answer' if with_answers else ''}, more than the backbone's "
                    f"context of {self.max_length}; build prompts with LLaRA.build_prompts (it drops the oldest history "
                    "items to fit) or shorten them"
                )
            rows.append(ids)
            labels.append(lab)
        width = max(len(r) for r in rows)
        B = len(rows)
        input_ids = torch.full((B, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((B, width), dtype=torch.long)
        lab_t = torch.full((B, width), IGNORE, dtype=torch.long)
        for b, (ids, lab) in enumerate(zip(rows, labels)):
            input_ids[b, width - len(ids) :] = torch.tensor(ids)
            mask[b, width - len(ids) :] = 1
            lab_t[b, width - len(lab) :] = torch.tensor(lab)
        items = [i for p in prompts for i in p.item_ids]
        return TokenBatch(
            input_ids=input_ids,
            attention_mask=mask,
            position_ids=positions_from_mask(mask),
            item_ids=torch.tensor(items, dtype=torch.long),
            labels=lab_t if with_answers else None,
            prompt_lengths=torch.tensor(prompt_lens, dtype=torch.long),
        )
