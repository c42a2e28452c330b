"""Training metrics: JSONL (append-only, survives resume), CSV (rewritten), TensorBoard if installed."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any


class MetricsLog:
    """Appends one JSON record per log call to ``metrics.jsonl`` and mirrors them to CSV/TensorBoard."""

    def __init__(self, folder: Path, tensorboard: bool = True):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.folder / "metrics.jsonl"
        self.csv = self.folder / "metrics.csv"
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.folder / "tensorboard"))
            except Exception:  # tensorboard not installed: JSONL/CSV only
                self._tb = None

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (a resumed run re-logs them)."""
        if not self.jsonl.is_file():
            return
        from llara_core.fileio import atomic_write_text

        keep = [r for r in self.records() if r.get("step", 0) <= step]
        atomic_write_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in keep))

    def log(self, record: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        with open(self.jsonl, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(clean) + "\n")
        if self._tb is not None:
            for k, v in clean.items():
                if isinstance(v, (int, float)) and k != "step":
                    self._tb.add_scalar(k, v, record.get("step", 0))

    def records(self) -> list[dict[str, Any]]:
        """Every record; a last line cut short by a kill (append-only writes) is skipped."""
        if not self.jsonl.is_file():
            return []
        out = []
        lines = self.jsonl.read_text().splitlines()
        for k, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                if k == len(lines) - 1:  # a write interrupted mid-line: that record is re-logged on resume
                    continue
                raise
        return out

    def close(self) -> None:
        rows = self.records()
        if rows:
            fields: list[str] = []
            for r in rows:
                fields += [k for k in r if k not in fields]
            from llara_core.fileio import atomic_open

            with atomic_open(self.csv, "w", encoding="utf-8", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)
        if self._tb is not None:
            self._tb.close()
