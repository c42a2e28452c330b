"""Runs llara under Fabric with several CPU processes (gloo) for tests/test_distributed.py.

usage: python tests/distributed_worker.py JOB[,JOB...] WORLD_DIR OUT [DEVICES] [STRATEGY]
JOB: train (a few steps; writes each rank's curriculum decisions), evaluate (scoring and
generation on 7 test samples, and the recipe's val loss; a result per rank), or fit
(``LLaRA.fit`` under STRATEGY with 2 worker processes, then a run that fails in them). One
process when DEVICES=1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STEPS = 6
GLOBAL_BATCH = 8


def config(world_dir: Path, n_devices: int, **training):
    from tests.llara_world import world_config

    world = {"data": world_dir / "data", "sasrec": world_dir / "sasrec"}
    training = {"max_steps": STEPS, "batch_size": GLOBAL_BATCH // n_devices, "checkpoint_every": 3, "lr": 1e-2, **training}
    cfg = world_config(world, **training)
    cfg.backbone.lora.dropout = 0.0  # dropout masks come from per-rank RNG streams; the comparison needs none
    return cfg


def jobs(fabric, names: str, world_dir: str, out: str, devices: int) -> None:
    """The comma-separated jobs ``names``, in order, in the same processes (one start-up)."""
    for name in names.split(","):
        job(fabric, name, world_dir, out, devices)


def job(fabric, name: str, world_dir: str, out: str, devices: int) -> None:
    from llara_core.data import Dataset
    from llara_core.model.compose import build_llara, write_run_config
    from llara_core.training.trainer import Trainer

    world_dir, out = Path(world_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch_threads()
    cfg = config(world_dir, devices)
    ds = Dataset.load(cfg.data.path)
    if name == "train":
        run = out / "run"
        if fabric.is_global_zero:
            write_run_config(cfg, run)
        fabric.barrier()
        trainer = Trainer(build_llara(cfg, ds), ds, cfg, run, fabric)
        summary = trainer.fit()
        decisions = [list(d[:2]) + [list(d[2])] for d in trainer.recipe.decisions]
        (out / f"decisions-rank{fabric.global_rank}.json").write_text(json.dumps({"decisions": decisions, "summary": summary}))
    else:
        from llara_core.evaluation.engine import evaluate

        model = build_llara(cfg, ds).eval()
        result = evaluate(model, ds, "test", seeds=[0, 1], mode="both", n_candidates=6, limit=7, max_new_tokens=6, n_boot=50, fabric=fabric)
        result.pop("rows")
        result["val_loss"] = validation_loss(fabric, model, ds, world_dir)
        (out / f"eval-rank{fabric.global_rank}.json").write_text(json.dumps({k: result[k] for k in ("scoring", "generation", "per_sample", "val_loss")}))


def validation_loss(fabric, model, ds, world_dir: Path) -> float:
    """The recipe's val loss at a batch size that leaves 12 val samples in 3 uneven batches
    (5, 5, 2): 2 ranks compute 2 and 1 (+1 padding) of them."""
    from llara_core.interfaces import PromptMode
    from llara_core.training.trainer import LLaRARecipe

    recipe = LLaRARecipe(model, ds, config(world_dir, fabric.world_size, batch_size=5), fabric.device)
    recipe.attach(fabric)
    return recipe.validation_loss(PromptMode.HYBRID)


def fit(world_dir: Path, out: Path, strategy: str) -> None:
    """``LLaRA.fit`` under a worker-process strategy (2 processes): the caller's model must end
    with the weights of ``last/``; then a run whose workers fail, whose message must come back as
    the same one-line LlaraError."""
    import os

    import torch

    from llara_core.data import Dataset
    from llara_core.errors import LlaraError
    from llara_core.model.artefact import read_weights
    from llara_core.model.compose import build_llara

    torch_threads()
    cfg = config(world_dir, 2, accelerator="cpu", devices=2, strategy=strategy, max_steps=2)
    ds = Dataset.load(cfg.data.path)
    model = build_llara(cfg, ds)
    before = {k: v.clone() for k, v in model.state_dict().items() if "lora_B" in k}
    summary = model.fit(out / "run")
    after = build_llara(cfg, ds)
    read_weights(after, out / "run" / "last")
    mine, saved = model.state_dict(), after.state_dict()
    result = {
        "step": summary["global_step"],
        "trained": any(not torch.equal(before[k], mine[k]) for k in before),
        "equal_last": all(torch.equal(mine[k], saved[k]) for k in mine),
    }
    os.environ.pop("MASTER_PORT", None)  # a fresh port for the second launch
    try:
        build_llara(cfg, ds).fit(out / "failing", config(world_dir, 2, accelerator="cpu", devices=2, strategy=strategy, batch_size=10_000))
    except LlaraError as exc:
        result["error"] = [type(exc).__name__, str(exc)]
    (out / "fit.json").write_text(json.dumps(result))


def torch_threads() -> None:
    import torch

    torch.set_num_threads(1)


def main() -> None:
    from llara_core.training.trainer import make_fabric

    name, world_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
    devices = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    strategy = sys.argv[5] if len(sys.argv) > 5 else ("ddp_spawn" if devices > 1 else "auto")
    if name == "fit":
        return fit(Path(world_dir), Path(out), strategy)
    cfg = config(Path(world_dir), devices, accelerator="cpu", devices=devices, strategy=strategy)
    make_fabric(cfg).launch(jobs, name, world_dir, out, devices)


if __name__ == "__main__":
    main()
