"""The session's benchmark records, and the JSON file they are merged into.

Every benchmark test adds one or more records (``Collector.add``): what was measured, the
sizes, the medians (and every round), the headline ratio or value, its target and whether it was
met. At the end of the session ``write_json`` merges them into ``docs/benchmarks.json``: records
of tests that did not run this time (deselected) are kept with their own date and machine;
records of tests that ran (or were skipped) are replaced.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from benchmarks.targets import TARGETS

FORMAT = 1
COMMAND = "pytest benchmarks --benchmark-only"
#: the order of groups in the JSON and the report
GROUPS = ("injection", "collation", "train step", "scoring", "SR training", "load")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return float(f"{x:.4g}")
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v) for v in x]
    return x


class Collector:
    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.skipped: dict[str, str] = {}
        self.ran: set[str] = set()

    def add(
        self,
        rid: str,
        *,
        nodeid: str,
        group: str,
        what: str,
        sizes: dict[str, Any],
        medians: dict[str, float],
        unit: str = "CPU-s",
        ratio: tuple[str, float] | None = None,
        ratio_of: tuple[str, str] | None = None,
        value: tuple[str, float, str] | None = None,
        rounds: dict[str, list[float]] | None = None,
        notes: list[str] | None = None,
        extra: dict[str, Any] | None = None,
        show: list[str] | None = None,
    ) -> dict[str, Any]:
        """Add one record; returns it (as stored, with its target and ``met``).

        ``ratio`` is ``(label, median_a / median_b)``; ``value`` a headline number that is not a
        ratio, ``(label, number, unit)``; ``ratio_of`` names the two variants of ``rounds`` the
        ratio divides (when absent the report reads them from the label), so the report can show the
        spread of the per-round ratios; ``show`` names keys of ``extra`` that the report puts
        next to the headline (e.g. samples/s). The target of ``rid`` (``targets.TARGETS``) is judged
        on the one it names.
        """
        if group not in GROUPS:
            raise ValueError(f"unknown group {group!r}; known: {GROUPS}")
        target = TARGETS.get(rid)
        number = None
        if target is not None:
            number = (value[1] if value else None) if target.on == "value" else (ratio[1] if ratio else None)
        rec = {
            "id": rid,
            "group": group,
            "what": what,
            "sizes": sizes,
            "unit": unit,
            "medians": _round(medians),
            "rounds": _round(rounds or {}),
            "ratio": {"label": ratio[0], "value": _round(ratio[1]), "of": list(ratio_of) if ratio_of else None} if ratio else None,
            "value": {"label": value[0], "value": _round(value[1]), "unit": value[2]} if value else None,
            "target": target.to_json() if target else None,
            "met": target.met(number) if target else None,
            "notes": list(notes or []),
            "extra": _round(extra or {}),
            "show": list(show or []),
            "nodeid": nodeid,
            "measured_at": _now(),
        }
        self.results[rid] = rec
        return rec

    def merged(self, old: dict[str, Any], machine: dict[str, Any], machine_id: str, run: dict[str, Any]) -> dict[str, Any]:
        """The JSON document: ``old`` (a previous file, or {}) updated with this session."""
        results = {k: r for k, r in old.get("results", {}).items() if r.get("nodeid") not in self.ran}
        for rid, rec in self.results.items():
            results[rid] = {**rec, "machine": machine_id}
        skipped = {k: v for k, v in old.get("skipped", {}).items() if k not in self.ran}
        skipped.update(self.skipped)
        machines = dict(old.get("machines", {}))
        machines[machine_id] = machine
        used = {r.get("machine") for r in results.values()} | {machine_id}
        order = {g: i for i, g in enumerate(GROUPS)}
        return {
            "format": FORMAT,
            "command": COMMAND,
            "last_run": {**run, "machine": machine_id},
            "machine": machine,
            "machines": {k: v for k, v in machines.items() if k in used},
            "results": dict(sorted(results.items(), key=lambda kv: (order.get(kv[1]["group"], 99), kv[0]))),
            "skipped": dict(sorted(skipped.items())),
        }


def write_json(path: Path, collector: Collector, machine: dict[str, Any], machine_id: str, run: dict[str, Any]) -> dict[str, Any]:
    old: dict[str, Any] = {}
    if path.is_file():
        try:
            old = json.loads(path.read_text())
        except json.JSONDecodeError:
            old = {}
        if old.get("format") != FORMAT:
            old = {}
    doc = collector.merged(old, machine, machine_id, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")
    return doc
