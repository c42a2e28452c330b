"""The up-front check of a training job: the whole dataset against the model, in one pass.

Before the first optimiser step (and before anything is written into the run folder beyond its
config), :func:`preflight` checks what would otherwise fail hours into a run, or silently:

- every title of the catalogue: not empty, one line, free of the prompt builder's placeholder
  and special tokens (a title holding ``[ItemEmb]`` would get a behaviour token it has no item
  for, the first time it is sampled);
- the catalogue of the model is the dataset's;
- every train prompt (its history window and its first epoch's training candidates) and every
  val/test prompt (the candidates of ``data.candidate_seed``), in each prompt mode training and
  evaluation use and the longest template, against the backbone's context with its longest
  answer: a prompt that cannot fit even without history is an error; one that fits only after
  dropping its oldest history items is counted and reported once (training then drops them
  without a warning per batch).

It returns one :class:`PreflightReport` listing every problem; ``raise_for_errors`` raises one
:class:`~llara_core.errors.DataError` holding them all. ``llara_core.training.run`` calls it
before building the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llara_core.errors import DataError, LlaraError
from llara_core.interfaces import PromptMode, PromptSample

if TYPE_CHECKING:
    from llara_core.config import ExperimentConfig
    from llara_core.data import Dataset
    from llara_core.model.llara import LLaRA

#: problems listed one by one in the report (the rest are counted)
MAX_LISTED = 10


@dataclass
class PreflightReport:
    """What :func:`preflight` found: ``errors`` (training cannot start), ``notes`` (printed
    before training), per split the prompts checked and the history items that will be dropped
    to fit the context."""

    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, dict[str, int]] = field(default_factory=dict)
    context: int | None = None
    hidden_errors: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def add_error(self, message: str) -> None:
        if len(self.errors) < MAX_LISTED:
            self.errors.append(message)
        else:
            self.hidden_errors += 1

    def raise_for_errors(self, source: str = "training data") -> None:
        if not self.errors:
            return
        total = len(self.errors) + self.hidden_errors
        lines = [f"{source}: {total} problem(s) found before training (nothing was trained):"]
        lines += [f"  {e}" for e in self.errors]
        if self.hidden_errors:
            lines.append(f"  ... and {self.hidden_errors} more")
        raise DataError("\n".join(lines))


def _modes(model: LLaRA, cfg: ExperimentConfig) -> tuple[list[PromptMode], list[PromptMode]]:
    """(modes training draws, the mode validation and evaluation use)."""
    if not model.has_behaviour:
        return [PromptMode.TEXT], [PromptMode.TEXT]
    train = [PromptMode.TEXT, PromptMode(cfg.training.behaviour_mode)]
    if cfg.training.behaviour_mode == "hybrid":
        train = [PromptMode.HYBRID]  # a hybrid prompt holds the text prompt's titles and more
    evaluation = PromptMode(cfg.evaluation.prompt_mode) if cfg.evaluation.prompt_mode else model.default_mode()
    return train, [evaluation]


def _longest_template(model: LLaRA, mode: PromptMode) -> int:
    builder = model.prompt_builder
    sizes = [len(builder.build(PromptSample((), (), None), mode, t).text) for t in range(builder.n_templates)]
    return max(range(len(sizes)), key=sizes.__getitem__)


def _check_split(report: PreflightReport, model: LLaRA, name: str, samples: list[PromptSample], modes: list[PromptMode]) -> None:
    templates = {m: _longest_template(model, m) for m in modes}
    shortened, items = 0, 0
    for row, sample in enumerate(samples):
        worst = 0
        for mode in modes:
            try:
                _, k = model.fit_prompt(sample, mode, templates[mode], row)
            except LlaraError as exc:
                report.add_error(f"{name} {exc}")
                break
            worst = max(worst, k)
        shortened += worst > 0
        items += worst
    report.checked[name] = len(samples)
    report.dropped[name] = {"prompts": shortened, "items": items}
    if shortened:
        report.notes.append(
            f"{name}: {shortened} of {len(samples)} prompts exceed the backbone's context of {report.context} tokens; "
            f"their oldest history items are dropped to fit ({items} items in all; candidates and answers are kept)"
        )


def preflight(model: LLaRA, dataset: Dataset, cfg: ExperimentConfig) -> PreflightReport:
    """Check ``dataset`` against ``model`` (prompt builder, tokenizer, context) as ``cfg`` will
    train and evaluate it; returns the report (see the module docstring)."""
    from llara_core.data.candidates import draw_split
    from llara_core.data.dataset import ITEMS
    from llara_core.model.llara import HISTORY_WINDOW
    from llara_core.training.data import CandidateSamples
    from llara_core.training.trainer import train_split

    report = PreflightReport(context=model.prompt_tokenizer.max_length)
    source = str(dataset.path / ITEMS) if dataset.path is not None else f"dataset {dataset.name!r}"
    if model.n_items is not None and model.n_items != dataset.n_items:
        report.add_error(f"the model was built for {model.n_items} items, the dataset {dataset.name!r} has {dataset.n_items}")
        return report
    for item, problem in model.unsafe_items().items():
        report.add_error(f"{source}: item {item}: {problem}")
    if report.errors:  # prompts of such items cannot be built: say so before anything else
        return report
    d = cfg.data
    train_modes, eval_modes = _modes(model, cfg)
    try:
        train = train_split(dataset, d.max_train_samples, d.min_history)
        samples = CandidateSamples(train, dataset.n_items, d.n_candidates, cfg.training.seed, HISTORY_WINDOW)
        rows = [samples.sample(i, 0) for i in range(len(samples))]
    except LlaraError as exc:
        report.add_error(str(exc))
        return report
    _check_split(report, model, "train", [PromptSample(r["history"], tuple(r["candidates"]), r["target"]) for r in rows], train_modes)
    for name in ("val", "test"):
        if name not in dataset.splits:
            continue
        split = dataset.split(name)
        try:
            cands = draw_split(dataset, name, d.n_candidates, d.candidate_seed)
        except LlaraError as exc:
            report.add_error(str(exc))
            continue
        eval_samples = [PromptSample(tuple(h[-HISTORY_WINDOW:]), tuple(c), t) for h, c, t in zip(split.histories, cands, split.targets)]
        _check_split(report, model, name, eval_samples, eval_modes)
    return report


def summary_line(report: PreflightReport) -> str:
    """One line for the run log: what was checked."""
    checked = ", ".join(f"{k} {v:,}" for k, v in report.checked.items())
    context = f"context {report.context} tokens" if report.context else "no context limit"
    return f"preflight: titles and prompts checked ({checked}; {context})"


def as_dict(report: PreflightReport) -> dict[str, Any]:
    return {"errors": report.errors, "notes": report.notes, "checked": report.checked, "dropped": report.dropped, "context": report.context}
