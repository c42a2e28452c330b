"""The speed targets of the benchmark suite, by benchmark id (reported as met / missed, never asserted).

A target compares a record's headline number: its ratio of medians (``on="ratio"``) or its
single value (``on="value"``: seconds of a load, gigabytes of memory).
"""

from __future__ import annotations

import operator
from dataclasses import asdict, dataclass

OPS = {"<=": operator.le, ">=": operator.ge}


@dataclass(frozen=True)
class Target:
    op: str
    threshold: float
    text: str
    on: str = "ratio"

    def met(self, number: float | None) -> bool | None:
        return None if number is None else bool(OPS[self.op](number, self.threshold))

    def to_json(self) -> dict:
        return asdict(self)


_LLARA_VS_BARE = Target("<=", 1.10, "llara step <= 1.10x the bare PEFT step")

TARGETS: dict[str, Target] = {
    "train_step.llara_vs_bare.tiny": _LLARA_VS_BARE,
    "train_step.llara_vs_bare.smollm2": _LLARA_VS_BARE,
    "train_step.today_vs_lean.smollm2": Target(">=", 1.7, "lean config >= 1.7x faster than today's"),
    "scoring.one_pass_vs_prompt_forward.smollm2": Target("<=", 1.5, "one-pass scoring <= 1.5x the bare prompt forward"),
    "scoring.kv_repeat_vs_one_pass.smollm2": Target(">=", 2.0, "one-pass >= 2x faster than the KV-repeat scorer"),
    "scoring.reference_generation_vs_one_pass.smollm2": Target(
        ">=", 5.0, "evaluation (one-pass scoring) >= 5x faster per sample than reference-style generation"
    ),
    "scoring.memory.smollm2": Target("<=", 1.5, "peak extra memory of one-pass scoring at batch 8 <= 1.5 GB", on="value"),
    "load.smollm2": Target("<=", 5.0, "cached load in a fresh process <= 5 s wall", on="value"),
    "load.cli_help": Target("<=", 1.5, "`llara --help` in a fresh process <= 1.5 s wall", on="value"),
    "sr_epoch.sasrec": Target("<=", 20.0, "one epoch (train + validation) <= 20 s", on="value"),
    "sr_epoch.gru4rec": Target("<=", 20.0, "one epoch (train + validation) <= 20 s", on="value"),
    "sr_epoch.caser": Target("<=", 20.0, "one epoch (train + validation) <= 20 s", on="value"),
}
