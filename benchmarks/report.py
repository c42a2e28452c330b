"""Regenerate ``docs/benchmarks.md`` from ``docs/benchmarks.json`` (and ``benchmarks/notes.md``).

Run alone with ``python benchmarks/report.py`` (options: ``--json``, ``--out``, ``--notes``);
``pytest benchmarks --benchmark-only`` calls it at the end of the session. Needs only the
standard library.

The page has the command, the machine, one table per group (what, sizes, medians, ratio or
value, target, met?), the notes each record carries, a "where the time goes" section for every
missed target and the skipped benchmarks with their reasons. The "where the time goes" texts
are hand-written in ``benchmarks/notes.md`` under a ``## <benchmark id>`` heading each; a missed
target without one gets a marked placeholder, so regenerating never loses a note.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JSON_PATH = ROOT / "docs" / "benchmarks.json"
MD_PATH = ROOT / "docs" / "benchmarks.md"
NOTES_PATH = ROOT / "benchmarks" / "notes.md"
PLACEHOLDER = (
    "> **TODO — where the time goes (not written yet).** Write it in `benchmarks/notes.md` under a "
    "`## {rid}` heading; `python benchmarks/report.py` then puts it here."
)

METHOD = (
    "Variants that compute the same thing run side by side in one process, interleaved "
    "(A, B, A, B, ...), after an untimed warm-up call of each, and each call is timed by the "
    "process's CPU time (`time.process_time()`) at one torch thread, so other jobs on the core "
    "change the wall time but not the figures. Medians are over the rounds (listed in the JSON); "
    "ratios are ratios of medians, with the range of the per-round ratios (round i of A over round i of B) beside them: on a shared machine that spread, not the last digit, says how firmly a target is met or missed. Loads and `llara --help` are timed by wall time in a fresh "
    "process (their metric). Each test asserts that its variants compute the same thing (equal "
    "outputs, losses or scores); targets are reported, never asserted."
)


def read_notes(path: Path) -> dict[str, str]:
    """``## <id>`` sections of the notes file, by id."""
    if not path.is_file():
        return {}
    notes: dict[str, str] = {}
    current, lines = None, []
    for line in path.read_text().splitlines():
        m = re.match(r"^##\s+(\S+)\s*$", line)
        if m:
            if current:
                notes[current] = "\n".join(lines).strip()
            current, lines = m.group(1), []
        elif current:
            lines.append(line)
    if current:
        notes[current] = "\n".join(lines).strip()
    return {k: v for k, v in notes.items() if v}


def _num(x: Any) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 0.1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def _pairs(d: dict[str, Any]) -> str:
    return ", ".join(f"{k.replace('_', ' ')} {_num(v)}" for k, v in d.items()) or "—"


def round_ratio_range(rec: dict[str, Any]) -> tuple[float, float] | None:
    """(min, max) of the per-round ratios of a ratio record (rounds paired in call order), or
    None when its rounds do not hold both variants: ``ratio.of``, else the two sides of the
    label ("KV-repeat / one-pass" -> kv_repeat, one_pass), else the first two medians."""
    ratio = rec.get("ratio") or {}
    rounds = rec.get("rounds") or {}
    names = ratio.get("of")
    if not names:
        sides = [re.sub(r"[\s-]+", "_", side.strip().lower()) for side in ratio.get("label", "").split("/")]
        names = sides if all(n in rounds for n in sides) else list(rec.get("medians", {}))[:2]
    if len(names) != 2 or any(n not in rounds for n in names) or len(rounds[names[0]]) != len(rounds[names[1]]) or len(rounds[names[0]]) < 2:
        return None
    ratios = [a / b for a, b in zip(rounds[names[0]], rounds[names[1]]) if b]
    return (min(ratios), max(ratios)) if ratios else None


def _headline(rec: dict[str, Any]) -> str:
    parts = []
    if rec.get("ratio"):
        spread = round_ratio_range(rec)
        per_round = f" (rounds {_num(spread[0])}–{_num(spread[1])})" if spread else ""
        parts.append(f"{rec['ratio']['label']} = **{_num(rec['ratio']['value'])}×**{per_round}")
    if rec.get("value"):
        v = rec["value"]
        parts.append(f"{v['label']} = **{_num(v['value'])} {v['unit']}**")
    parts += [f"{k.replace('_', ' ')} {_num(rec['extra'][k])}" for k in rec.get("show", []) if k in rec.get("extra", {})]
    return "; ".join(parts) or "—"


def _met(rec: dict[str, Any]) -> str:
    return {True: "met", False: "**missed**", None: "—"}[rec.get("met")]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def machine_lines(machine: dict[str, Any]) -> list[str]:
    flags = ", ".join(machine.get("cpu_flags") or []) or "none of avx2/avx512f/avx512_bf16/amx_bf16/amx_tile"
    return [
        "| CPU | flags | cores (usable) | torch | transformers | torch threads | train precision |",
        "|---|---|---|---|---|---|---|",
        f"| {machine.get('cpu_model')} | {flags} | {machine.get('cores')} ({machine.get('cores_usable')}) | "
        f"{machine.get('torch')} | {machine.get('transformers')} | {machine.get('torch_threads')} | "
        f"{machine.get('train_precision')} ({machine.get('train_precision_reason')}) |",
    ]


def gpu_lines(gpu: dict[str, Any] | None) -> list[str]:
    """The GPU section: ``benchmarks/gpu.py``'s JSON when one was added to the document under
    ``"gpu"`` (its ``gpu`` field names the card), else a line saying it was not run."""
    out = ["## GPU", "", "`python benchmarks/gpu.py --out gpu-benchmark.json` (a CUDA GPU, < 5 minutes): a LoRA step and "
           "one-pass scoring of random-weight Llama-shaped models at SmolLM2's shape and a ~1.2B shape, bf16, SDPA; "
           "tokens/s and model-FLOPs utilisation against the matmul rate it measures on the same card.", ""]
    if not gpu:
        return out + ["Not run yet: no GPU was lent to the sessions that built and measured this suite.", ""]
    return out + [f"Measured on {gpu.get('gpu', '?')}:", "", "```json", json.dumps(gpu, indent=1), "```", ""]


def render(doc: dict[str, Any], notes: dict[str, str]) -> str:
    run = doc.get("last_run", {})
    results = list(doc.get("results", {}).values())
    out = [
        "# Benchmarks",
        "",
        "<!-- generated by benchmarks/report.py from docs/benchmarks.json: edit benchmarks/notes.md, "
        "not this file -->",
        "",
        "The whole suite, which writes `docs/benchmarks.json` and regenerates this page "
        "(`python benchmarks/report.py` regenerates it from the JSON alone):",
        "",
        "```bash",
        doc.get("command", "pytest benchmarks --benchmark-only"),
        "```",
        "",
    ]
    if run.get("invocation"):
        out += [f"Last run: `{run['invocation']}`, {run.get('started', '?')}, "
                f"{_num(run.get('wall_s', 0))} s wall, {_num(run.get('cpu_s', 0))} CPU-s "
                f"(this process and its children), {run.get('tests', '?')} tests, exit status {run.get('exit_status', '?')}.", ""]
    out += ["## Machine", "", *machine_lines(doc.get("machine", {})), "", METHOD, ""]
    other = {r["machine"] for r in results if r.get("machine") != run.get("machine")}
    if other:
        out += ["Rows marked † were measured in an earlier run (date in the JSON), on:", ""]
        for key in sorted(other):
            m = doc.get("machines", {}).get(key, {})
            out.append(f"- `{key}`: {m.get('cpu_model')}, {', '.join(m.get('cpu_flags') or [])}, torch {m.get('torch')}, {m.get('torch_threads')} thread(s)")
        out.append("")
    groups: list[str] = []
    for r in results:
        if r["group"] not in groups:
            groups.append(r["group"])
    for group in groups:
        rows = [r for r in results if r["group"] == group]
        out += [f"## {group[0].upper() + group[1:]}", "",
                "| id | what | sizes | medians | ratio / value | target | met? |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            mark = " †" if r.get("machine") != run.get("machine") else ""
            target = r["target"]["text"] if r.get("target") else "—"
            out.append(
                f"| `{r['id']}`{mark} | {_cell(r['what'])} | {_cell(_pairs(r['sizes']))} | "
                f"{_cell(_pairs(r['medians']))} ({r['unit']}) | {_cell(_headline(r))} | {_cell(target)} | {_met(r)} |"
            )
        footnotes: dict[str, list[str]] = {}
        for r in rows:
            for n in r.get("notes", []):
                footnotes.setdefault(n, []).append(r["id"])
        if footnotes:
            out.append("")
            out += [f"- {', '.join(f'`{i}`' for i in ids)}: {n}" for n, ids in footnotes.items()]
        out.append("")
    missed = [r for r in results if r.get("met") is False]
    out += ["## Missed targets: where the time goes", ""]
    if not missed:
        out += ["Every target was met.", ""]
    for r in missed:
        out += [f"### {r['id']}", "", f"Target: {r['target']['text']}; measured: {_headline(r)}.", ""]
        out += [notes.get(r["id"]) or PLACEHOLDER.format(rid=r["id"]), ""]
    out += [*gpu_lines(doc.get("gpu")), "## Skipped", ""]
    skipped = doc.get("skipped", {})
    out += [f"- `{nodeid}`: {reason}" for nodeid, reason in skipped.items()] or ["Nothing was skipped."]
    out.append("")
    return "\n".join(out)


def write_report(json_path: Path = JSON_PATH, md_path: Path = MD_PATH, notes_path: Path = NOTES_PATH) -> Path:
    doc = json.loads(Path(json_path).read_text())
    Path(md_path).write_text(render(doc, read_notes(Path(notes_path))))
    return Path(md_path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=JSON_PATH)
    ap.add_argument("--out", type=Path, default=MD_PATH)
    ap.add_argument("--notes", type=Path, default=NOTES_PATH)
    args = ap.parse_args(argv)
    print(write_report(args.json, args.out, args.notes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
