"""The synthetic catalogue: deterministic, readable distinct titles, and two signals: transitions
between ids that a sequential model learns but titles do not reveal, and a taste that val/test
histories show only through cold items (ids never seen in training), i.e. only by title words."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import pytest

from llara_core.data.candidates import draw_split
from llara_core.data.synthetic import SIGNALS, THEMES, make_synthetic, synthetic_truth
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
    t1, t2 = synthetic_truth(5), synthetic_truth(5)
    assert t1["signal"] == t2["signal"] and t1["user_theme"] == t2["user_theme"] and (t1["cold"] == t2["cold"]).all()
    # the taste signal is part of the data: another p_taste gives other bytes
    assert make_synthetic(seed=5, p_taste=0.1).save(tmp_path / "d")["content_hash"] != a


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


def _hit_rates(dataset, split: str, seed: int) -> dict[str, dict[str, float]]:
    """HR@1 on 20 persisted-style candidates, per target signal and over all samples, of a
    first-order count model fitted on train, of popularity, and of a text-only rule (pick the
    candidate whose title theme is most frequent in the history's titles)."""
    train = dataset.split("train")
    follows: dict[int, Counter] = defaultdict(Counter)
    popularity = Counter(train.targets)
    for hist, target in zip(train.histories, train.targets):
        if hist:
            follows[hist[-1]][target] += 1
    truth = synthetic_truth(0)
    themes = truth["themes"]
    rng = np.random.default_rng(seed)
    data = dataset.split(split)
    hits: dict[str, Counter] = defaultdict(Counter)
    rows = zip(draw_split(dataset, split, 20, seed), data.histories, data.targets, truth["signal"][split])
    for cands, hist, target, signal in rows:
        seen = Counter(themes[h] for h in hist)
        scores = [seen[themes[c]] + rng.random() for c in cands]
        got = {
            "sequential": max(cands, key=lambda c: (follows[hist[-1]][c], popularity[c])) == target,
            "popularity": max(cands, key=lambda c: popularity[c]) == target,
            "text": cands[int(np.argmax(scores))] == target,
        }
        for group in (signal, "all"):
            hits[group]["n"] += 1
            for k, v in got.items():
                hits[group][k] += v
    return {g: {k: c[k] / c["n"] for k in ("sequential", "popularity", "text")} for g, c in hits.items()}


def test_two_signals_one_for_ids_one_for_titles(synthetic):
    """Transition targets: a sequential model wins and titles say nothing; taste-only targets:
    the ids of the history do not reveal the taste (a count model is near chance) while the
    title theme points to the target."""
    rates = [_hit_rates(synthetic, "test", seed) for seed in range(3)]
    mean = {g: {k: float(np.mean([r[g][k] for r in rates])) for k in rates[0][g]} for g in rates[0]}
    assert mean["transition"]["sequential"] > 0.6, mean  # h[-1] alone: a taste step may follow the walk item
    assert mean["transition"]["text"] < 0.12, mean  # chance is 0.05 on 20 candidates
    assert mean["taste"]["sequential"] < 0.12 and mean["taste"]["popularity"] < 0.12, mean
    assert mean["taste"]["text"] > 0.25, mean
    assert mean["all"]["sequential"] > mean["all"]["popularity"] + 0.25, mean
    # the hidden graph ignores themes: successors share their item's theme about 1 time in 10
    truth = synthetic_truth(0)
    same = np.mean([truth["themes"][s] == truth["themes"][i] for i, row in enumerate(truth["successors"]) for s in row])
    assert same < 0.2


def test_the_taste_of_val_and_test_users_shows_only_in_cold_items(synthetic):
    truth = synthetic_truth(0)
    themes, cold, signal = np.asarray(truth["themes"]), truth["cold"], truth["signal"]
    train = synthetic.split("train")
    in_train = set(train.targets) | {i for h in train.histories for i in h}
    assert not in_train & set(np.flatnonzero(cold).tolist())  # no train user has a cold item
    assert cold.sum() == 60 and set(Counter(themes[np.flatnonzero(cold)]).values()) == {6}
    assert not cold[truth["successors"]].any()
    counts = synthetic.source["target_signal_counts"]
    for split in ("val", "test"):
        data = synthetic.split(split)
        assert len(signal[split]) == len(data) and counts[split] == {s: signal[split].count(s) for s in SIGNALS}
        assert 0.2 <= counts[split]["taste"] / len(data) <= 0.4  # p_taste = 0.3
        on_top, cold_share = [], []
        for hist, target, user, sig in zip(data.histories, data.targets, data.users, signal[split]):
            taste = truth["user_theme"][user]
            assert not cold[target]  # the target is an item seen in training
            hist = np.asarray(hist)
            assert (themes[hist[cold[hist]]] == taste).all()  # cold history items come from taste steps
            if sig == "taste":
                assert themes[target] == taste
                if cold[hist].any():
                    seen = Counter(themes[hist])
                    on_top.append(seen[taste] == max(seen.values()))
                    cold_share.append(cold[hist].sum() / (themes[hist] == taste).sum())
            elif sig == "transition":
                assert any(target in truth["successors"][h] for h in hist)
        # the taste theme is (one of) the most frequent among the history's titles, and most of
        # the history's items of that theme are cold ids
        assert np.mean(on_top) > 0.8 and np.mean(cold_share) > 0.7, (split, np.mean(on_top), np.mean(cold_share))
    # train taste steps stay in the user's theme too, on items that are not cold
    assert 0.2 <= counts["train"]["taste"] / len(train) <= 0.4
    for user, target, sig in zip(train.users, train.targets, signal["train"]):
        if sig == "taste":
            assert themes[target] == truth["user_theme"][user] and not cold[target]


def test_without_taste_only_transitions_remain():
    ds = make_synthetic(seed=2, n_items=80, n_train_users=60, n_val_users=20, n_test_users=20, p_taste=0.0)
    truth = synthetic_truth(2, n_items=80, n_train_users=60, n_val_users=20, n_test_users=20, p_taste=0.0)
    assert all(s != "taste" for values in truth["signal"].values() for s in values)
    assert ds.source["params"]["p_taste"] == 0.0
    used = {i for split in ds.splits.values() for h, t in zip(split.histories, split.targets) for i in (*h, t)}
    assert not used & set(np.flatnonzero(truth["cold"]).tolist())


def test_size_options_and_their_limits():
    small = make_synthetic(seed=1, n_items=40, n_train_users=30, n_val_users=5, n_test_users=5)
    assert small.n_items == 40 and len(small.split("test")) == 5
    with pytest.raises(DataError, match="n_items 5000 outside"):
        make_synthetic(n_items=5000)
    with pytest.raises(DataError, match="p_first"):
        make_synthetic(p_first=0.9, p_second=0.3)
    with pytest.raises(DataError, match="p_taste"):
        make_synthetic(p_taste=1.0)
    with pytest.raises(DataError, match="cold_frac"):
        make_synthetic(cold_frac=-0.1)
