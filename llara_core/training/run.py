"""Run a training job end to end: run folder, config files, Fabric, model, preflight, trainer.

Reliability guarantees (tested in ``tests/test_reliability_training.py``):

- **A new run never overwrites an old one.** :func:`train` refuses a folder that already holds a
  run (``last/``, ``best/``, ``metrics.jsonl`` or ``train_summary.json``), from the CLI and from
  ``LLaRA.fit`` alike.
- **The data is checked before the first step** (:mod:`llara_core.training.preflight`): one
  report of every unusable title and every prompt that cannot fit the backbone's context.
- **Interruptions lose nothing.** SIGINT (Ctrl-C) and SIGTERM ask the loop to stop at the next
  optimiser-step boundary, where it writes ``last/`` atomically and returns; the exact resume
  command is printed. A second Ctrl-C aborts at once (the previous checkpoint stays intact).
  SIGKILL loses at most the steps since the last checkpoint: checkpoints are written into a
  temporary folder, fsync-ed and renamed, so ``last/`` is always complete.
- **Resume is exact and says where it continues**; a finished run is not touched again
  ("already finished at step N; nothing to do").
- **Out of memory** is one error saying what to lower.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from llara_core.config import ExperimentConfig
from llara_core.data import Dataset
from llara_core.errors import LlaraError, OutOfMemoryError, is_out_of_memory
from llara_core.model.compose import build_llara, read_run_config, write_run_config
from llara_core.model.llara import LLaRA
from llara_core.training.loop import BEST, LAST, SUMMARY
from llara_core.training.trainer import Trainer, make_fabric

#: what makes a folder hold a run (a config alone does not: nothing was trained yet)
RUN_MARKERS = (LAST, BEST, "metrics.jsonl", SUMMARY)
#: signals that stop training at the next step boundary with a checkpoint
STOP_SIGNALS = tuple(s for s in (getattr(signal, "SIGINT", None), getattr(signal, "SIGTERM", None)) if s is not None)


#: the training settings that say how a run is launched, not what it computes
LAUNCH_KEYS = ("accelerator", "devices", "strategy", "num_nodes")


def with_launch(cfg: ExperimentConfig, launch: dict[str, Any]) -> ExperimentConfig:
    """``cfg`` with the launch settings in ``launch`` replaced (validated like the config)."""
    unknown = set(launch) - set(LAUNCH_KEYS)
    if unknown:
        raise LlaraError(f"not launch settings: {sorted(unknown)} (expected some of {list(LAUNCH_KEYS)})")
    raw = cfg.model_dump(mode="json")
    raw["training"].update(launch)
    return type(cfg).model_validate(raw)


def resume_command(run_dir: Path) -> str:
    return f"llara train --resume {run_dir}"


def existing_run(run_dir: Path) -> str | None:
    """The first marker of a run found in ``run_dir`` (None when it holds no run)."""
    for name in RUN_MARKERS:
        if (Path(run_dir) / name).exists():
            return name
    return None


def finished_summary(run_dir: Path) -> dict[str, Any] | None:
    """The summary of a run that finished (all its steps, or stopped early), else None."""
    from llara_core.fileio import read_json

    path = Path(run_dir) / SUMMARY
    if not path.is_file():
        return None
    summary = read_json(path, "a training summary")
    if not isinstance(summary, dict):
        return None
    step, total = summary.get("global_step"), summary.get("total_steps")
    done = isinstance(step, int) and isinstance(total, int) and step >= total
    return summary if done or summary.get("stopped_early") else None


def train(cfg: ExperimentConfig, run_dir: Path | None = None, console: Console | None = None, model: LLaRA | None = None, dataset: Dataset | None = None) -> dict[str, Any]:
    """Train a new run in ``run_dir`` (default ``cfg.training.out_dir``); returns the summary.
    Refuses a folder that already holds a run (resume it with :func:`resume`)."""
    run_dir = Path(run_dir or cfg.training.out_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise LlaraError(f"{run_dir}: is a file; expected a run folder")
    from llara_core.distributed import launched_child

    if launched_child():  # a DDP rank started by the launcher: rank 0 checked and wrote the folder
        return _fit(cfg, run_dir, False, console, model, dataset)
    marker = existing_run(run_dir)
    if marker is not None:
        raise LlaraError(
            f"{run_dir} already holds a run ({run_dir / marker} exists); resume it with `{resume_command(run_dir)}` "
            "or pick another folder (--out, or LLaRA.fit(run_dir))"
        )
    write_run_config(cfg, run_dir)
    return _fit(cfg, run_dir, False, console, model, dataset)


def resume(run_dir: Path, console: Console | None = None, launch: dict[str, Any] | None = None) -> dict[str, Any]:
    """Continue the run in ``run_dir`` from its ``last`` checkpoint (from step 0 when it was
    stopped before its first one). A finished run is left as it is: the summary is returned
    with ``already_finished`` and nothing is written. ``launch`` (keys of ``training``:
    accelerator, devices, strategy, num_nodes) may change how the rest runs; a checkpoint saved
    under N processes resumes under M (docs/scaling.md)."""
    from llara_core.training.state_io import recover_checkpoint

    run_dir = Path(run_dir)
    console = console or Console()
    cfg = read_run_config(run_dir)
    if launch:
        cfg = with_launch(cfg, launch)
    done = finished_summary(run_dir)
    if done is not None:
        console.print(f"{run_dir}: already finished at step {done['global_step']}; nothing to do", highlight=False)
        return {**done, "already_finished": True}
    from llara_core.distributed import launched_child

    for name in (LAST, BEST) if not launched_child() else ():
        if recover_checkpoint(run_dir / name):
            console.print(f"{run_dir / name}: put back from the copy a killed save left", highlight=False)
    return _fit(cfg, run_dir, True, console)


class _StopOnSignals:
    """SIGINT/SIGTERM handlers for the duration of ``fit``: the first signal asks the loop to
    stop at the next step boundary (it saves ``last`` there); a second SIGINT raises
    KeyboardInterrupt. Only the process that installed them acts (data-loader workers forked
    from it inherit the handlers and ignore the signal)."""

    def __init__(self, trainer: Trainer, console: Console, run_dir: Path):
        self.trainer, self.console, self.run_dir = trainer, console, run_dir
        self.pid = os.getpid()
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if os.getpid() != self.pid:  # a forked data-loader worker: the main process decides
            return
        if self.received is not None and signum == getattr(signal, "SIGINT", None):
            raise KeyboardInterrupt
        self.received = signum
        self.trainer.loop.stop_requested = True
        name = signal.Signals(signum).name
        self.console.print(
            f"{name} received: stopping after the current step and saving {self.run_dir / LAST} "
            "(Ctrl-C again aborts without saving)",
            highlight=False,
        )

    def __enter__(self) -> _StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for s in STOP_SIGNALS:
                try:
                    self._previous[s] = signal.signal(s, self._handle)
                except (ValueError, OSError):  # pragma: no cover - not installable here
                    pass
        return self

    def __exit__(self, *exc: Any) -> None:
        for s, previous in self._previous.items():
            signal.signal(s, previous)


@contextlib.contextmanager
def _explain_out_of_memory(cfg: ExperimentConfig, trainer: Trainer, run_dir: Path) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        t = cfg.training
        step = trainer.state["global_step"] + 1
        last = run_dir / LAST
        saved = f"the last checkpoint is {last} (resume with `{resume_command(run_dir)}` after lowering them)" if last.is_dir() else "no checkpoint was saved yet"
        raise OutOfMemoryError(
            f"out of memory at step {step} ({type(exc).__name__}: {str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ''}); "
            f"lower training.batch_size (now {t.batch_size}; raise training.grad_accum, now {t.grad_accum}, to keep the "
            f"effective batch), data.n_candidates (now {cfg.data.n_candidates}) for listwise objectives, or set "
            f"backbone.params.gradient_checkpointing: true; {saved}"
        ) from exc


def _fit(cfg: ExperimentConfig, run_dir: Path, resume_run: bool, console: Console | None, model: LLaRA | None = None, dataset: Dataset | None = None) -> dict[str, Any]:
    from llara_core.training.preflight import preflight, summary_line

    console = console or Console()
    fabric = make_fabric(cfg)
    fabric.launch()
    dataset = dataset if dataset is not None else Dataset.load(cfg.data.path)
    model = model if model is not None else build_llara(cfg, dataset)
    report = preflight(model, dataset, cfg)
    report.raise_for_errors(str(dataset.path or dataset.name))
    if fabric.is_global_zero:
        console.print(summary_line(report), highlight=False)
        for note in report.notes:
            console.print(note, highlight=False)
    warn = model.warn_context
    model.warn_context = False  # the preflight reported the prompts that get shortened, once
    try:
        return _train(cfg, run_dir, resume_run, console, fabric, model, dataset)
    finally:
        model.warn_context = warn


def _train(cfg: ExperimentConfig, run_dir: Path, resume_run: bool, console: Console, fabric: Any, model: LLaRA, dataset: Dataset) -> dict[str, Any]:
    trainer = Trainer(model, dataset, cfg, run_dir, fabric, console)
    if resume_run:
        if (run_dir / LAST).is_dir():
            trainer.resume()
            console.print(
                f"resuming {run_dir} from step {trainer.state['global_step']} of {trainer.total_steps} "
                f"(checkpoint {run_dir / LAST})",
                highlight=False,
            )
        else:
            trainer.loop.log.truncate_after(0)
            console.print(f"{run_dir}: no checkpoint was saved yet; starting again from step 0 of {trainer.total_steps}", highlight=False)
    stopper = _StopOnSignals(trainer, console, run_dir)
    try:
        with stopper, _explain_out_of_memory(cfg, trainer, run_dir):
            summary = trainer.fit()
    except KeyboardInterrupt:
        last = run_dir / LAST
        where = f"the last checkpoint is {last}; resume with: {resume_command(run_dir)}" if last.is_dir() else "no checkpoint was saved yet"
        console.print(f"aborted at step {trainer.state['global_step']} without saving; {where}", highlight=False)
        raise
    if summary.get("interrupted"):
        summary["signal"] = signal.Signals(stopper.received).name if stopper.received else None
        console.print(
            f"interrupted at step {summary['global_step']}; checkpoint saved in {run_dir / LAST}; "
            f"resume with: {resume_command(run_dir)}",
            highlight=False,
        )
    return summary
