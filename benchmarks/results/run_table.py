"""Run a results table row by row, resumably: ``python benchmarks/results/run_table.py TABLE.yaml``.

A table file (``examples/configs/results/*-table.yaml``) lists rows of four kinds: ``baseline``
(random / popularity), ``sr`` (a sequential recommender folder, trained first when ``train``
names its model and the folder is missing), ``zero-shot`` (the untuned backbone) and ``llara``
(a config plus ``-o`` overrides). Every step writes its own output, and a step whose output
exists is skipped: a finished training (``train_summary.json`` at its planned step count), an
evaluation result. An interrupted training is continued with ``llara train --resume``. Commands
run in ``--workdir`` (which holds ``data/`` and ``models/``), each with its log next to its
outputs under the table's ``runs`` folder; every result JSON carries its manifest.

``--rows`` picks rows by id, ``--train-only`` skips evaluations, ``--status`` prints what is done,
``--hours H`` stops launching new steps after H hours (a step already running finishes).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml


def load_table(path: Path) -> dict[str, Any]:
    table = yaml.safe_load(path.read_text())
    for key in ("dataset", "data", "runs", "rows"):
        if key not in table:
            raise SystemExit(f"{path}: missing key {key!r}")
    ids = [r["id"] for r in table["rows"]]
    if len(ids) != len(set(ids)):
        raise SystemExit(f"{path}: row ids repeat")
    table["folder"] = path.parent.resolve()
    return table


def training_done(run: Path) -> bool:
    summary = run / "train_summary.json"
    if not summary.is_file():
        return False
    s = json.loads(summary.read_text())
    return s["global_step"] >= s["total_steps"] or bool(s.get("stopped_early"))


def eval_args(table: dict[str, Any]) -> list[str]:
    ev = table.get("evaluation", {})
    return ["--split", ev.get("split", "test"), "--seeds", ",".join(str(s) for s in ev.get("seeds", [0, 1, 2, 3, 4]))]


def steps_for(row: dict[str, Any], table: dict[str, Any], threads: int) -> list[tuple[str, list[str], Path]]:
    """(label, command, output that marks the step done) for each step of ``row``."""
    run = Path(table["runs"]) / row["id"]
    data = table["data"]
    thr = ["--threads", str(threads)]
    result = run / "eval.json"
    kind = row["kind"]
    if kind == "baseline":
        return [("evaluate", ["llara", "sr", "evaluate", "--baseline", row["baseline"], "--data", data, *eval_args(table), "--out", str(result)], result)]
    if kind == "sr":
        out = []
        if row.get("train"):
            out.append(("train", ["llara", "sr", "train", "--data", data, "--model", row["train"], "--out", row["model"], *thr], Path(row["model"]) / "config.json"))
        out.append(("evaluate", ["llara", "sr", "evaluate", row["model"], "--data", data, *eval_args(table), "--out", str(result), *thr], result))
        return out
    if kind == "zero-shot":
        return [("evaluate", ["llara", "evaluate", "--zero-shot", "--backbone", row["backbone"], "--data", data, "--mode", "both", *eval_args(table), "--out", str(result), *thr], result)]
    if kind == "llara":
        config = str(table["folder"] / row["config"])
        overrides = [a for o in row.get("overrides", []) for a in ("-o", o)]
        if (run / "last").is_dir() and not training_done(run):
            train = ["llara", "train", "--resume", str(run), *thr]
        else:
            train = ["llara", "train", config, *overrides, "--out", str(run), *thr]
        return [
            ("train", train, run / "train_summary.json"),
            ("evaluate", ["llara", "evaluate", str(run), "--mode", "both", *eval_args(table), "--out", str(result), *thr], result),
        ]
    raise SystemExit(f"row {row['id']}: unknown kind {kind!r}")


def llara_executable() -> str:
    """The ``llara`` command of the running interpreter's environment (else the one on PATH)."""
    exe = Path(sys.executable).with_name("llara")
    return str(exe) if exe.exists() else "llara"


def is_done(label: str, done_marker: Path) -> bool:
    if label == "train" and done_marker.name == "train_summary.json":
        return training_done(done_marker.parent)
    return done_marker.exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path)
    parser.add_argument("--workdir", type=Path, default=Path("."))
    parser.add_argument("--rows", help="comma-separated row ids (default: all, in table order)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-only", action="store_true")
    parser.add_argument("--status", action="store_true", help="print each step's state and exit")
    parser.add_argument("--hours", type=float, help="launch no new step after this many hours")
    args = parser.parse_args(argv)
    table = load_table(args.table.resolve())
    rows = table["rows"]
    if args.rows:
        wanted = args.rows.split(",")
        unknown = sorted(set(wanted) - {r["id"] for r in rows})
        if unknown:
            raise SystemExit(f"unknown row ids: {', '.join(unknown)}")
        rows = [r for r in rows if r["id"] in wanted]
    start = time.time()
    for row in rows:
        for label, cmd, marker in steps_for(row, table, args.threads):
            if label == "evaluate" and args.train_only:
                continue
            done = is_done(label, args.workdir / marker)
            if args.status:
                print(f"{row['id']:32s} {label:9s} {'done' if done else 'to do'}")
                continue
            if done:
                continue
            if args.hours is not None and time.time() - start > args.hours * 3600:
                print(f"stopping: {args.hours} h passed; rerun the same command to continue", flush=True)
                return 0
            log = args.workdir / Path(table["runs"]) / row["id"] / f"{label}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            print(f"[{time.strftime('%H:%M:%S')}] {row['id']} {label}: {shlex.join(cmd)}  (log: {log})", flush=True)
            with open(log, "a", encoding="utf-8") as fh:
                code = subprocess.call([llara_executable(), *cmd[1:]], cwd=args.workdir, stdout=fh, stderr=subprocess.STDOUT)
            if code != 0:
                print(f"{row['id']} {label} failed with exit code {code}; see {log}", flush=True)
                return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
