"""LLaRA: a backbone LM whose prompts carry projected behaviour embeddings of a frozen
sequential recommender, composed from registry components."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from llara_core.errors import DataError, UsageError
from llara_core.interfaces import (
    Backbone,
    CurriculumScheduler,
    ItemEncoder,
    Projector,
    Prompt,
    PromptBuilder,
    PromptMode,
    PromptSample,
)
from llara_core.model.batching import IGNORE, PromptTokenizer, TokenBatch, context_length
from llara_core.model.injection import inject_behaviour
from llara_core.model.objectives import CandidateBatch, candidate_objective
from llara_core.model.scoring import ScoreRequest, candidate_log_likelihoods
from llara_core.model.tokens import add_special_tokens
from llara_core.model.tuning import apply_tuning, count_parameters

TRAINABLE_FILE = "trainable.safetensors"
#: the most history items a prompt shows (LLaRA's protocol: the last 10, oldest first)
HISTORY_WINDOW = 10


class ContextWarning(UserWarning):
    """History items were dropped from prompts to fit the backbone's context."""


class LLaRA(nn.Module):
    """Backbone + frozen item encoder + trainable projector + prompt builder.

    ``llm`` is the backbone after the tuning mode was applied (a PEFT model under LoRA). The
    item encoder is frozen and stays in eval mode. ``trainable_names`` is fixed at construction:
    checkpoints always hold exactly these tensors, whatever the last batch's mode was.
    """

    def __init__(
        self,
        backbone: Backbone,
        prompt_builder: PromptBuilder,
        item_encoder: ItemEncoder | None = None,
        projector: Projector | None = None,
        tuning: str = "lora",
        lora: Any = None,
        curriculum: CurriculumScheduler | None = None,
        titles: Sequence[str] | None = None,
    ):
        super().__init__()
        if (item_encoder is None) != (projector is None):
            raise UsageError("give both an item encoder and a projector, or neither (text-only)")
        hidden = backbone.model.get_input_embeddings().weight.shape[1]
        if projector is not None:
            in_dim, out_dim = getattr(projector, "in_dim", None), getattr(projector, "out_dim", None)
            if isinstance(in_dim, int) and in_dim != item_encoder.dim:
                raise UsageError(
                    f"the projector maps in_dim={in_dim}, but the item encoder's embeddings have dim={item_encoder.dim}; "
                    f"build the projector with in_dim=encoder.dim ({item_encoder.dim})"
                )
            if isinstance(out_dim, int) and out_dim != hidden:
                raise UsageError(
                    f"the projector maps to out_dim={out_dim}, but the backbone's hidden size is {hidden}; "
                    f"build the projector with out_dim={hidden}"
                )
        if titles is not None and item_encoder is not None and len(titles) != item_encoder.n_items:
            raise UsageError(f"{len(titles)} titles for an item encoder of n_items={item_encoder.n_items}: they must describe the same catalogue")
        self.tokenizer = backbone.tokenizer
        self.backbone_identity = dict(backbone.identity)
        self.placeholder_id = add_special_tokens(self.tokenizer, backbone.model, prompt_builder.special_tokens())[
            prompt_builder.placeholder
        ]
        self.llm = apply_tuning(backbone.model, tuning, lora)
        self.tuning = tuning
        self.prompt_builder = prompt_builder
        self.prompt_tokenizer = PromptTokenizer(
            self.tokenizer, self.placeholder_id, backbone.use_chat_template, system_prompt=backbone.system_prompt,
            max_length=context_length(backbone.model),
        )
        #: warn when history items are dropped to fit the context (the trainer turns it off once
        #: its preflight reported the count for the whole dataset); totals in ``context_drops``
        self.warn_context = True
        self.context_drops = {"prompts": 0, "items": 0}
        self.catalogue_source: str | None = None  # where the titles come from, for messages
        self._unsafe_items: dict[int, str] | None = None
        self.gradient_checkpointing = backbone.gradient_checkpointing
        self.item_encoder = item_encoder
        if item_encoder is not None:
            item_encoder.requires_grad_(False)
            item_encoder.eval()
        self.projector = projector
        self.curriculum = curriculum
        self.titles = list(titles) if titles is not None else None
        self.item_encoder_name: str | None = None  # registered name and checkpoint metadata, set by compose
        self.item_encoder_meta: dict[str, Any] = {}
        self.trainable_names = [n for n, p in self.named_parameters() if p.requires_grad]

    # ------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> LLaRA:
        super().train(mode)
        if self.item_encoder is not None:
            self.item_encoder.eval()  # frozen: no dropout, ever
        return self

    @property
    def hidden_size(self) -> int:
        return self.llm.get_input_embeddings().weight.shape[1]

    @property
    def device(self) -> torch.device:
        return self.llm.get_input_embeddings().weight.device

    @property
    def has_behaviour(self) -> bool:
        return self.item_encoder is not None

    # ------------------------------------------------------------------ prompts
    @property
    def n_items(self) -> int | None:
        if self.titles is not None:
            return len(self.titles)
        return self.item_encoder.n_items if self.item_encoder is not None else None

    def unsafe_items(self) -> dict[int, str]:
        """Items whose title cannot be used in a prompt (empty, containing one of the prompt
        builder's special tokens, or a line break): item id -> what is wrong (computed once)."""
        if self._unsafe_items is None:
            from llara_core.data.titles import title_problem

            reserved = list(dict.fromkeys([self.prompt_builder.placeholder, *self.prompt_builder.special_tokens()]))
            out: dict[int, str] = {}
            for i in range(self.n_items or 0):
                title = self.prompt_builder.title(i)
                problem = title_problem(title, reserved)
                if problem:
                    out[i] = f"title {title!r} {problem}"
            self._unsafe_items = out
        return self._unsafe_items

    def check_items(self, samples: Sequence[PromptSample]) -> None:
        """Every item of ``samples`` lies in the catalogue and has a usable title (one
        UsageError / DataError naming the sample and the item, not an IndexError later)."""
        n = self.n_items
        unsafe = self.unsafe_items()
        for row, s in enumerate(samples):
            items = [*s.history, *s.candidates, *([] if s.target is None else [s.target])]
            for item in items:
                if isinstance(item, bool) or not isinstance(item, numbers.Integral):
                    raise UsageError(f"sample {row}: item {item!r} is not an integer item id")
                if n is not None and not 0 <= int(item) < n:
                    raise UsageError(f"sample {row}: item id {int(item)} outside the catalogue 0..{n - 1}")
                if int(item) in unsafe:
                    where = f" ({self.catalogue_source})" if self.catalogue_source else ""
                    raise DataError(f"item {int(item)}{where}: {unsafe[int(item)]}; fix the title in the dataset and re-save it")

    def answer_budget(self, sample: PromptSample) -> int:
        """Tokens to keep free after a prompt: its longest possible answer (the target and
        every candidate, as the answer text with its terminator)."""
        items = set(sample.candidates) | ({sample.target} if sample.target is not None else set())
        tok = self.prompt_tokenizer
        return max((len(tok.answer_ids(self.prompt_builder.title(i))) for i in items), default=0)

    def fit_prompt(self, sample: PromptSample, mode: PromptMode, template_index: int = 0, row: int = 0) -> tuple[Prompt, int]:
        """The prompt of ``sample``, with as many of its oldest history items dropped as it takes
        to fit the backbone's context with its longest answer; returns (prompt, items dropped).
        Candidates and the answer are never dropped: when even no history does not fit,
        DataError says by how much."""
        builder, tok = self.prompt_builder, self.prompt_tokenizer
        prompt = builder.build(sample, mode, template_index)
        if tok.max_length is None:
            return prompt, 0
        budget = self.answer_budget(sample)
        if tok.fits(prompt.text, budget):
            return prompt, 0
        history = list(sample.history)
        for k in range(1, len(history) + 1):
            shorter = PromptSample(tuple(history[k:]), sample.candidates, sample.target)
            prompt = builder.build(shorter, mode, template_index)
            if tok.fits(prompt.text, budget):
                return prompt, k
        need = len(tok.prompt_ids(prompt.text))
        raise DataError(
            f"sample {row}: its prompt takes {need} tokens even with no history ({len(sample.candidates)} candidates, "
            f"mode {PromptMode(mode).value}, template {template_index}) plus {budget} for its longest answer, more than "
            f"the backbone's context of {tok.max_length} tokens; lower data.n_candidates, shorten the titles or use a "
            "backbone with a longer context"
        )

    def build_prompts(
        self, samples: Sequence[PromptSample], modes: Sequence[PromptMode] | PromptMode, template_index: int = 0
    ) -> list[Prompt]:
        """The prompts of ``samples`` (one mode for all, or one per sample), each fitted to the
        backbone's context (:meth:`fit_prompt`; a :class:`ContextWarning` counts the history
        items dropped)."""
        if isinstance(modes, (PromptMode, str)):
            modes = [PromptMode(modes)] * len(samples)
        if len(modes) != len(samples):
            raise UsageError(f"{len(samples)} samples but {len(modes)} prompt modes")
        if not self.has_behaviour and any(PromptMode(m) is not PromptMode.TEXT for m in modes):
            raise UsageError("this model has no item encoder: only text prompts are possible")
        self.check_items(samples)
        prompts, dropped, shortened = [], 0, 0
        for row, (s, m) in enumerate(zip(samples, modes)):
            prompt, k = self.fit_prompt(s, PromptMode(m), template_index, row)
            prompts.append(prompt)
            dropped += k
            shortened += k > 0
        if dropped:
            self.context_drops["prompts"] += shortened
            self.context_drops["items"] += dropped
            if self.warn_context:
                warnings.warn(
                    f"dropped the oldest {dropped} history item(s) of {shortened} of {len(samples)} prompt(s) to fit the "
                    f"backbone's context of {self.prompt_tokenizer.max_length} tokens (candidates and answers are kept)",
                    ContextWarning,
                    stacklevel=2,
                )
        return prompts

    def encode(self, prompts: Sequence[Prompt], with_answers: bool) -> TokenBatch:
        return self.prompt_tokenizer.encode(prompts, with_answers).to(self.device)

    # ------------------------------------------------------------------ forward
    def behaviour_embeddings(self, item_ids: torch.Tensor) -> torch.Tensor:
        """``(M,)`` item ids -> ``(M, H)`` projected embeddings (encoder frozen, projector trainable)."""
        with torch.no_grad():
            emb = self.item_encoder.embed_items(item_ids)
        return self.projector(emb.to(next(self.projector.parameters(), emb).dtype))

    def input_embeddings(self, batch: TokenBatch) -> torch.Tensor:
        """``(B, T, H)`` input embeddings with behaviour embeddings injected at placeholders."""
        embeds = self.llm.get_input_embeddings()(batch.input_ids)
        if batch.item_ids.numel() == 0:
            return embeds
        return inject_behaviour(embeds, batch.input_ids, self.placeholder_id, self.behaviour_embeddings(batch.item_ids))

    def forward(self, batch: TokenBatch | CandidateBatch) -> torch.Tensor:
        """The training loss of ``batch``: for a :class:`TokenBatch` (built with answers) the mean
        causal-LM loss over its answer tokens (LLaRA's objective); for a :class:`CandidateBatch`
        the listwise / lm+listwise objective over every sample's candidates
        (:mod:`llara_core.model.objectives`).

        Rows are left-padded, so every answer sits in the last columns: logits are computed only
        from the column before the first labelled token on (``logits_to_keep``), which spares
        the vocabulary projection of every prompt position.
        """
        if isinstance(batch, CandidateBatch):
            return candidate_objective(self, batch)
        if isinstance(batch, ScoreRequest):
            return candidate_log_likelihoods(self, batch.prompts, batch.titles, batch.length_normalise)
        labelled = (batch.labels != IGNORE).any(0).nonzero()
        if labelled.numel() == 0:
            raise UsageError("the batch has no answer tokens to learn")
        first = int(labelled[0])
        keep = batch.labels.shape[1] - first + 1
        out = self.llm(
            inputs_embeds=self.input_embeddings(batch),
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            use_cache=False,
            logits_to_keep=keep,
        )
        logits = out.logits[:, :-1].float()  # position t predicts token t + 1
        targets = batch.labels[:, first:]
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)

    # ------------------------------------------------------------------ inference
    def default_mode(self) -> PromptMode:
        """Hybrid when the model was trained to see behaviour tokens at the end, else text."""
        if not self.has_behaviour:
            return PromptMode.TEXT
        if self.curriculum is not None and self.curriculum(1, 2) <= 0.0:
            return PromptMode.TEXT
        config = getattr(self, "config", None)
        return PromptMode(config.training.behaviour_mode) if config is not None else PromptMode.HYBRID

    def score_candidates(
        self,
        prompts: Sequence[Prompt],
        titles: Sequence[Sequence[str]],
        length_normalise: bool = False,
        rows_per_pass: int = 1,
        max_tokens: int | None = None,
    ) -> list[Any]:
        """Per prompt, the log-likelihood of each candidate title as the answer (NumPy arrays),
        all candidates of a prompt in one forward pass (:mod:`llara_core.model.scoring`)."""
        from llara_core.model.scoring import DEFAULT_MAX_TOKENS, score_candidates

        return score_candidates(self, prompts, titles, length_normalise, rows_per_pass, max_tokens or DEFAULT_MAX_TOKENS)

    def generate(self, prompts: Sequence[Prompt], max_new_tokens: int = 64, batch_size: int = 8) -> list[str]:
        """Greedy answers of ``prompts``, cut at the first newline (:mod:`llara_core.model.generation`)."""
        from llara_core.model.generation import generate_answers

        return generate_answers(self, prompts, max_new_tokens, batch_size)

    @torch.no_grad()
    def recommend(
        self,
        history: Sequence[int],
        candidates: Sequence[int],
        mode: PromptMode | str | None = None,
        length_normalise: bool = False,
        template_index: int = 0,
    ) -> list[tuple[int, float]]:
        """The candidates ranked by the log-likelihood of their title as the answer, best first,
        as ``(item id, score)`` pairs."""
        mode = PromptMode(mode) if mode is not None else self.default_mode()
        history, candidates = list(history), list(candidates)
        if not history:
            raise UsageError("history is empty: give at least one item the user interacted with, oldest first")
        if len(history) > HISTORY_WINDOW:
            raise UsageError(
                f"history has {len(history)} items; the model reads at most {HISTORY_WINDOW} (LLaRA's window): "
                f"pass the last {HISTORY_WINDOW}, oldest first"
            )
        if len(candidates) < 2:
            raise UsageError(f"give at least 2 candidates to rank (got {len(candidates)})")
        seen: set[int] = set()
        for c in candidates:
            if c in seen:
                raise UsageError(f"candidate {c} is given twice; each candidate must appear once")
            seen.add(c)
        prompt = self.build_prompts([PromptSample(tuple(history), tuple(candidates), None)], mode, template_index)[0]
        titles = [self.prompt_builder.title(c) for c in candidates]
        scores = self.score_candidates([prompt], [titles], length_normalise=length_normalise)[0]
        order = sorted(range(len(candidates)), key=lambda i: -scores[i])
        return [(int(candidates[i]), float(scores[i])) for i in order]

    # ------------------------------------------------------------------ weights
    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        params = dict(self.named_parameters())
        return {n: params[n].detach().cpu().contiguous() for n in self.trainable_names}

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load exactly the trainable tensors; any missing or unexpected name is an error."""
        missing = sorted(set(self.trainable_names) - set(state))
        unexpected = sorted(set(state) - set(self.trainable_names))
        if missing or unexpected:
            raise UsageError(
                f"trainable weights do not match this model: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
            )
        params = dict(self.named_parameters())
        with torch.no_grad():
            for n in self.trainable_names:
                if params[n].shape != state[n].shape:
                    raise UsageError(f"{n}: shape {tuple(state[n].shape)} in file, {tuple(params[n].shape)} in model")
                params[n].copy_(state[n].to(params[n].dtype))

    def save_trainable(self, folder: str | Path) -> Path:
        from llara_core.fileio import save_safetensors

        return save_safetensors(self.trainable_state_dict(), Path(folder) / TRAINABLE_FILE)

    def load_trainable(self, folder: str | Path) -> None:
        from llara_core.fileio import read_safetensors

        path = Path(folder) / TRAINABLE_FILE
        state = read_safetensors(path, "trained weights (LoRA + projector)")
        try:
            self.load_trainable_state_dict(state)
        except UsageError as exc:
            raise UsageError(f"{path}: {exc}") from None

    def save_pretrained(self, folder: str | Path) -> Path:
        """Write this model as a self-contained, verified artefact (:mod:`llara_core.model.artefact`):
        config, component versions, backbone identity, catalogue, a copy of the item encoder,
        projector weights and a standard PEFT adapter folder."""
        from llara_core.model.artefact import save_pretrained

        return save_pretrained(self, folder)

    def parameter_counts(self) -> dict[str, Any]:
        out = {"llm": count_parameters(self.llm)}
        if self.projector is not None:
            out["projector"] = count_parameters(self.projector)
        return out

    # ------------------------------------------------------------------ composition API
    @classmethod
    def from_config(cls, config: Any, dataset: Any = None) -> LLaRA:
        """Compose from an ExperimentConfig, a raw mapping or a YAML path (validated first)."""
        from llara_core.config import ExperimentConfig, load_config, validate_config
        from llara_core.model.compose import build_llara

        if isinstance(config, (str, Path)):
            config = load_config(config)
        elif not isinstance(config, ExperimentConfig):
            config = validate_config(config)
        return build_llara(config, dataset)

    @classmethod
    def from_pretrained(cls, folder: str | Path) -> LLaRA:
        """The model saved by :meth:`save_pretrained` (e.g. a run's ``best/`` or ``last/``), every
        part rebuilt through the registries and verified against its recorded hash."""
        from llara_core.model.artefact import from_pretrained

        return from_pretrained(folder)

    @classmethod
    def load(cls, run_dir: str | Path, checkpoint: str = "best") -> LLaRA:
        """The model of a training run folder, with its ``best`` (or ``last``) weights."""
        return cls.from_pretrained(Path(run_dir) / checkpoint)

    def fit(self, run_dir: str | Path | None = None, config: Any = None, dataset: Any = None) -> dict[str, Any]:
        """Train this model as ``config`` says (default: the config it was built from)."""
        from llara_core.training.run import train

        config = config or getattr(self, "config", None)
        if config is None:
            raise UsageError("fit() needs a config (models built with from_config carry theirs)")
        return train(config, Path(run_dir) if run_dir else None, model=self, dataset=dataset)
