"""Which candidate a generated answer names.

Two rules are computed for every answer:

* **reference** (LLaRA's code): case-fold answer and titles; every title that occurs as a
  substring of the answer is a match; valid iff exactly one title matches. "Alien" therefore
  matches inside "Aliens", and an answer naming Aliens is invalid when both are candidates.
* **llara** (default): case-fold and replace punctuation by spaces in both, then match titles as
  whole-word sequences; when two matched titles overlap (one inside the other's occurrence), only
  the longer one counts. Valid iff exactly one title remains.

An answer is *ambiguous* when the reference rule finds several titles but the llara rule
resolves them to one (the substring case): counted separately in reports.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def normalise(text: str) -> str:
    """Case-folded, accents kept, punctuation -> single spaces, trimmed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " " + _NON_WORD.sub(" ", text).strip() + " "


@dataclass(frozen=True)
class Match:
    """The outcome of matching one answer against its candidates."""

    choice: int | None  # index of the chosen candidate (llara rule), None when invalid
    reference_matches: tuple[int, ...]  # candidate indices matched by the reference rule
    matches: tuple[int, ...]  # candidate indices matched by the llara rule (after overlap resolution)

    @property
    def valid(self) -> bool:
        return self.choice is not None

    @property
    def reference_valid(self) -> bool:
        return len(self.reference_matches) == 1

    @property
    def reference_choice(self) -> int | None:
        return self.reference_matches[0] if self.reference_valid else None

    @property
    def ambiguous(self) -> bool:
        return len(self.reference_matches) > 1 and self.valid


def _spans(haystack: str, needle: str) -> list[tuple[int, int]]:
    out, start = [], 0
    while needle.strip():
        i = haystack.find(needle, start)
        if i < 0:
            break
        out.append((i, i + len(needle)))
        start = i + 1
    return out


def match_answer(answer: str, titles: Sequence[str]) -> Match:
    """Match one generated answer (already cut at its first newline) against candidate titles."""
    low = answer.strip().lower()
    reference = tuple(i for i, t in enumerate(titles) if t.strip().lower() in low)
    text = normalise(answer)
    spans = {i: _spans(text, normalise(t)) for i, t in enumerate(titles)}
    spans = {i: s for i, s in spans.items() if s}
    kept = []
    for i, mine in spans.items():
        # drop i when every occurrence lies inside an occurrence of a longer matched title
        covered = all(
            any(j != i and a <= s and e <= b and (b - a) > (e - s) for j, other in spans.items() for a, b in other)
            for s, e in mine
        )
        if not covered:
            kept.append(i)
    matches = tuple(sorted(kept))
    return Match(matches[0] if len(matches) == 1 else None, reference, matches)
