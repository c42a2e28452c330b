"""The synthetic catalogue: deterministic, readable distinct titles, and a behaviour signal
that a sequential model learns but that titles do not reveal."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from llara_core.data.candidates import draw_split
from llara_core.data.synthetic import THEMES, make_synthetic, synthetic_truth
from llara_core.errors import DataError


@pytest.fixture(scope="module")
def synthetic():
    return make_synthetic(seed=0)


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a = make_synthetic(seed=5).save(tmp_path / "a")["content_hash"]
    b = make_synthetic(seed=5).save(tmp_path / "b")["content_hash"]
    c = make_synthetic(seed=6).save(tmp_path / "c")["content_hash"]
    assert a == b != c
    assert (tmp_path / "a" / "train.jsonl").read_bytes() == (tmp_path / "b" / "train.jsonl").read_bytes()


def test_default_sizes_and_histories(synthetic):
    assert synthetic.n_items == 300 and synthetic.domain == "movie"
    assert {len({u for u in s.users}) for s in synthetic.splits.values()} == {600, 100}
    assert len(synthetic.split("val")) == len(synthetic.split("test")) == 100
    for split in synthetic.splits.values():
        assert all(3 <= len(h) <= 10 for h in split.histories)
        assert all(t not in h for h, t in zip(split.histories, split.targets))  # no repeats


def test_titles_are_short_distinct_themed_and_never_substrings(synthetic):
    titles = synthetic.titles
    assert len(set(titles)) == len(titles)
    assert all(2 <= len(t.split()) <= 3 for t in titles)
    folded = [t.casefold() for t in titles]
    for i, a in enumerate(folded):
        for j, b in enumerate(folded):
            assert i == j or a not in b, (titles[i], titles[j])
    themes = synthetic_truth(0)["themes"]
    for title, theme in zip(titles, themes):
        adjectives, nouns = THEMES[theme]
        words = title.removeprefix("The ").split()
        assert words[0] in adjectives and words[1] in nouns, (title, theme)
    assert set(Counter(themes).values()) == {30}


def _hit_rates(dataset, split: str, seed: int) -> dict[str, float]:
    """HR@1 on 20 persisted-style candidates of a first-order count model fitted on train,
    of popularity, and of a text-only rule (pick the candidate whose title theme is most
    frequent in the history's titles)."""
    train = dataset.split("train")
    follows: dict[int, Counter] = defaultdict(Counter)
    popularity = Counter(train.targets)
    for hist, target in zip(train.histories, train.targets):
        if hist:
            follows[hist[-1]][target] += 1
    themes = synthetic_truth(0)["themes"]
    rng = np.random.default_rng(seed)
    data = dataset.split(split)
    hits = Counter()
    for cands, hist, target in zip(draw_split(dataset, split, 20, seed), data.histories, data.targets):
        hits["sequential"] += max(cands, key=lambda c: (follows[hist[-1]][c], popularity[c])) == target
        hits["popularity"] += max(cands, key=lambda c: popularity[c]) == target
        seen = Counter(themes[h] for h in hist)
        scores = [seen[themes[c]] + rng.random() for c in cands]
        hits["text"] += cands[int(np.argmax(scores))] == target
    return {k: hits[k] / len(data) for k in ("sequential", "popularity", "text")}


def test_behaviour_beats_popularity_and_titles_do_not_reveal_the_next_item(synthetic):
    rates = [_hit_rates(synthetic, "test", seed) for seed in range(3)]
    mean = {k: float(np.mean([r[k] for r in rates])) for k in rates[0]}
    assert mean["sequential"] > mean["popularity"] + 0.3, mean
    assert mean["text"] < 0.15, mean  # chance is 0.05 on 20 candidates
    # the hidden graph ignores themes: successors share their item's theme about 1 time in 10
    truth = synthetic_truth(0)
    same = np.mean([truth["themes"][s] == truth["themes"][i] for i, row in enumerate(truth["successors"]) for s in row])
    assert same < 0.2


def test_size_options_and_their_limits():
    small = make_synthetic(seed=1, n_items=40, n_train_users=30, n_val_users=5, n_test_users=5)
    assert small.n_items == 40 and len(small.split("test")) == 5
    with pytest.raises(DataError, match="n_items 5000 outside"):
        make_synthetic(n_items=5000)
    with pytest.raises(DataError, match="p_first"):
        make_synthetic(p_first=0.9, p_second=0.3)
