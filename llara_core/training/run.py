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

Several processes (docs/scaling.md): ``ddp`` and external launchers (torchrun, SLURM) run the
training in this process as one rank; ``ddp_spawn``/``ddp_fork`` run it in worker processes
that this one waits for. Stops are taken by all ranks together; rank 0 alone writes and reports.
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
from llara_core.training.trainer import Trainer, check_replicated, make_fabric

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
    check_replicated(cfg.training.strategy)  # before anything is written
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
    check_encoder_unchanged(cfg, run_dir / LAST)
    return _fit(cfg, run_dir, True, console)


def check_encoder_unchanged(cfg: ExperimentConfig, last: Path) -> None:
    """Refuse to resume when the item encoder folder the config names (``item_encoder.checkpoint``)
    no longer holds the encoder the checkpoint ``last`` was trained with (its sha256 is in the
    artefact's manifest): the rest of the run would train against another encoder."""
    from llara_core.model.artefact import (
        ENCODER_DIR,
        ArtefactMismatchError,
        is_artefact,
        read_manifest,
        sha256_file,
    )
    from llara_core.sr.checkpoint import WEIGHTS

    source = cfg.item_encoder.checkpoint
    if source is None or not is_artefact(last):
        return
    recorded = (read_manifest(last).get("item_encoder") or {}).get("source_sha256")
    weights = Path(source) / WEIGHTS
    now = sha256_file(weights) if weights.is_file() else None
    if recorded and now != recorded:
        held = f"now holds sha256 {now[:12]}" if now else f"has no {WEIGHTS} any more"
        raise ArtefactMismatchError(
            f"{source}: the item encoder folder {held}, but {last.parent} was trained with sha256 {recorded[:12]}; "
            f"put that encoder back (a copy is in {last / ENCODER_DIR}) or start a new run"
        )


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
        self.trainer.loop.stop_requested, self.trainer.loop.stop_signal = True, signum
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
    """Launch the processes of ``cfg.training`` (Fabric) and train in each; returns rank 0's
    summary. Spawn-type strategies (ddp_spawn, ddp_fork, ddp_notebook) run :func:`_fit_rank` in
    fresh worker processes (see :func:`_launch_workers`); the others (ddp, torchrun, SLURM, one
    device) run it in this process as rank 0 or as the rank a launcher made it."""
    fabric = make_fabric(cfg)
    if _spawns(fabric):
        return _launch_workers(fabric, cfg, run_dir, resume_run, console, model, dataset)
    return fabric.launch(_fit_rank, cfg, run_dir, resume_run, console, model, dataset)


def _spawns(fabric: Any) -> bool:
    from lightning_fabric.strategies.launchers.multiprocessing import _MultiProcessingLauncher

    return isinstance(getattr(fabric.strategy, "launcher", None), _MultiProcessingLauncher)


def _launch_workers(fabric: Any, cfg: ExperimentConfig, run_dir: Path, resume_run: bool, console: Console | None, model: LLaRA | None, dataset: Dataset | None) -> dict[str, Any]:
    """Run :func:`_fit_rank` in Fabric's worker processes and return rank 0's summary.

    The workers print to this process's terminal (a ``spawn`` worker gets a console of its own: a
    console does not pickle). This process waits: it forwards SIGTERM to the workers, which stop at
    the next step boundary, and ignores SIGINT, which a terminal's Ctrl-C delivers to the workers
    itself. A LlaraError in a worker is raised here as the same one-line message. A ``model`` given
    (``LLaRA.fit``) is trained in the workers and then takes the weights of ``last/`` here."""
    import multiprocessing

    start = getattr(fabric.strategy.launcher, "_start_method", "spawn")
    errors = multiprocessing.get_context(start).SimpleQueue()
    try:
        with _forward_signals():
            summary = fabric.launch(_worker, errors, cfg, run_dir, resume_run, None if start == "spawn" else console, model, dataset)
    except Exception:
        if not errors.empty():
            raise LlaraError(errors.get()) from None
        raise
    if model is not None and (run_dir / LAST).is_dir():
        from llara_core.model.artefact import read_weights

        read_weights(model, run_dir / LAST)
    return summary


def _worker(fabric: Any, errors: Any, *args: Any) -> dict[str, Any]:
    """:func:`_fit_rank` in a worker process, its LlaraError message put in ``errors`` for the parent."""
    try:
        return _fit_rank(fabric, *args)
    except LlaraError as exc:
        errors.put(str(exc))
        raise


@contextlib.contextmanager
def _forward_signals() -> Iterator[None]:
    """While workers run: SIGTERM goes on to them, SIGINT is left to them (see :func:`_launch_workers`)."""
    import multiprocessing

    def forward(signum: int, frame: Any) -> None:
        for child in multiprocessing.active_children():
            with contextlib.suppress(OSError):
                os.kill(child.pid, signum)

    handlers = {getattr(signal, "SIGTERM", None): forward, getattr(signal, "SIGINT", None): signal.SIG_IGN}
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {s: signal.signal(s, h) for s, h in handlers.items() if s is not None}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _fit_rank(fabric: Any, cfg: ExperimentConfig, run_dir: Path, resume_run: bool, console: Console | None, model: LLaRA | None = None, dataset: Dataset | None = None) -> dict[str, Any]:
    """One rank's part of a run: data, model, preflight (reported by rank 0), training."""
    from llara_core.training.preflight import preflight, summary_line

    console = console or Console()
    if resume_run:
        cfg = _keep_global_batch(cfg, run_dir / LAST, fabric.world_size, console if fabric.is_global_zero else None)
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


def _keep_global_batch(cfg: ExperimentConfig, last: Path, world: int, console: Console | None) -> ExperimentConfig:
    """``cfg`` with the per-device ``training.batch_size`` that keeps the global batch of the
    checkpoint ``last`` under ``world`` processes (the same samples in every optimiser step, the
    same curriculum draws and schedule: the run continues as it would have). LlaraError when
    ``world`` does not divide it; ``cfg`` itself when nothing changes or nothing was saved yet."""
    from llara_core.training.loop import saved_global_batch
    from llara_core.training.state_io import read_trainer_state

    if not last.is_dir():
        return cfg
    state = read_trainer_state(last)
    per_device, saved_world = saved_global_batch(state) or (cfg.training.batch_size, int(state.get("rng", {}).get("world_size", 1)))
    global_batch = per_device * saved_world
    if global_batch % world:
        raise LlaraError(
            f"{last}: saved under {saved_world} process(es) × training.batch_size {per_device}; {world} processes cannot share "
            f"its global batch of {global_batch} evenly: resume with a number of processes (devices × num_nodes) that divides {global_batch}"
        )
    if global_batch // world == cfg.training.batch_size:
        return cfg
    if console is not None:
        console.print(
            f"resuming under {world} process(es): training.batch_size {global_batch // world} per device (saved: {per_device} "
            f"under {saved_world}) keeps the global batch of {global_batch}",
            highlight=False,
        )
    raw = cfg.model_dump(mode="json")
    raw["training"]["batch_size"] = global_batch // world
    return type(cfg).model_validate(raw)


def _continue(trainer: Trainer, run_dir: Path, console: Console) -> None:
    """Put ``trainer`` where the run stopped (its ``last`` checkpoint, or step 0 without one);
    rank 0 alone says where and trims the metrics log."""
    zero = trainer.fabric.is_global_zero
    if (run_dir / LAST).is_dir():
        trainer.resume()
        where = f"resuming {run_dir} from step {trainer.state['global_step']} of {trainer.total_steps} (checkpoint {run_dir / LAST})"
    else:
        if zero:
            trainer.loop.log.truncate_after(0)
        where = f"{run_dir}: no checkpoint was saved yet; starting again from step 0 of {trainer.total_steps}"
    if zero:
        console.print(where, highlight=False)


def _train(cfg: ExperimentConfig, run_dir: Path, resume_run: bool, console: Console, fabric: Any, model: LLaRA, dataset: Dataset) -> dict[str, Any]:
    trainer = Trainer(model, dataset, cfg, run_dir, fabric, console)
    if resume_run:
        _continue(trainer, run_dir, console)
    stopper = _StopOnSignals(trainer, console, run_dir)
    try:
        with stopper, _explain_out_of_memory(cfg, trainer, run_dir):
            summary = trainer.fit()
    except KeyboardInterrupt:
        last = run_dir / LAST
        where = f"the last checkpoint is {last}; resume with: {resume_command(run_dir)}" if last.is_dir() else "no checkpoint was saved yet"
        if fabric.is_global_zero:
            console.print(f"aborted at step {trainer.state['global_step']} without saving; {where}", highlight=False)
        raise
    if summary.get("interrupted"):
        signum = stopper.received or summary.get("signal")  # the signal may have reached another rank only
        summary["signal"] = signal.Signals(signum).name if signum else None
    if summary.get("interrupted") and fabric.is_global_zero:
        console.print(
            f"interrupted at step {summary['global_step']}; checkpoint saved in {run_dir / LAST}; "
            f"resume with: {resume_command(run_dir)}",
            highlight=False,
        )
    return summary
