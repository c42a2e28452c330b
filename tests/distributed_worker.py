"""Runs llara under Fabric with several CPU processes (gloo) for tests/test_distributed.py.

usage: python tests/distributed_worker.py JOB WORLD_DIR OUT [DEVICES] [STRATEGY]
JOB: train (a few steps; writes each rank's curriculum decisions), resume (continue OUT/run),
evaluate (scoring + generation on 7 test samples, result per rank). One process when DEVICES=1.
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
    cfg = world_config(world, max_steps=STEPS, batch_size=GLOBAL_BATCH // n_devices, checkpoint_every=3, lr=1e-2, **training)
    cfg.backbone.lora.dropout = 0.0  # dropout masks come from per-rank RNG streams; the comparison needs none
    return cfg


def job(fabric, name: str, world_dir: str, out: str, devices: int) -> None:
    from llara_core.data import Dataset
    from llara_core.model.compose import build_llara, write_run_config
    from llara_core.training.trainer import Trainer

    world_dir, out = Path(world_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch_threads()
    cfg = config(world_dir, devices)
    ds = Dataset.load(cfg.data.path)
    if name in ("train", "resume"):
        run = out / "run"
        if fabric.is_global_zero and name == "train":
            write_run_config(cfg, run)
        fabric.barrier()
        trainer = Trainer(build_llara(cfg, ds), ds, cfg, run, fabric)
        if name == "resume":
            trainer.resume()
            (out / f"resumed-from-rank{fabric.global_rank}.json").write_text(json.dumps({"step": trainer.state["global_step"], "world": fabric.world_size}))
        if name == "train" and devices > 1 and "STOP_AT" in __import__("os").environ:
            stop = int(__import__("os").environ["STOP_AT"])
            recipe = trainer.recipe
            original = recipe.make_batch

            def make_batch(rows, step, total):  # stop like a signal would, after step `stop`
                if step >= stop:
                    trainer.loop.stop_requested = True
                return original(rows, step, total)

            recipe.make_batch = make_batch
        summary = trainer.fit()
        decisions = [list(d[:2]) + [list(d[2])] for d in trainer.recipe.decisions]
        (out / f"decisions-rank{fabric.global_rank}.json").write_text(json.dumps({"decisions": decisions, "summary": summary}))
    else:
        from llara_core.evaluation.engine import evaluate

        model = build_llara(cfg, ds).eval()
        result = evaluate(model, ds, "test", seeds=[0, 1], mode="both", n_candidates=6, limit=7, max_new_tokens=6, n_boot=50, fabric=fabric)
        result.pop("rows")
        (out / f"eval-rank{fabric.global_rank}.json").write_text(json.dumps({k: result[k] for k in ("scoring", "generation", "per_sample")}))


def torch_threads() -> None:
    import torch

    torch.set_num_threads(1)


def main() -> None:
    from llara_core.training.trainer import make_fabric

    name, world_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
    devices = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    strategy = sys.argv[5] if len(sys.argv) > 5 else ("ddp_spawn" if devices > 1 else "auto")
    cfg = config(Path(world_dir), devices, accelerator="cpu", devices=devices, strategy=strategy)
    make_fabric(cfg).launch(job, name, world_dir, out, devices)


if __name__ == "__main__":
    main()
