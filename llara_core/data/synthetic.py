"""A deterministic synthetic catalogue for the offline quickstart and for fast tests.

Items have short readable titles (2-3 words: ``"Midnight Lantern"``, ``"The Copper Foundry"``)
built from the word banks of a few themes (sea, night, metal, garden, ...), so the theme is
visible in the words. Titles are distinct and none is a substring of another (evaluation
matches titles by case-folded substring).

The next item of a user carries one of two signals, or neither:

1. **Transitions between item ids** (what a sequential recommender such as SASRec reads): a
   hidden *successor graph*, drawn independently of the themes and titles, gives every item a
   first and a second successor. A user keeps a current *walk item*; a walk step goes with
   probability ``p_first`` to its first successor, with ``p_second`` to the second, otherwise
   to a popularity draw, and the item reached becomes the walk item. Titles do not reveal
   these steps (a successor shares its predecessor's theme only by chance).
2. **A taste that shows only in title words**: every user has a taste theme, uniform over
   the themes. With probability ``p_taste`` a step is a *taste step* instead of a walk step:
   an item of the user's theme, uniform among those not yet in the sequence; the walk item
   stays where it was (the user then resumes the chain). A fraction ``cold_frac`` of each
   theme's items are *cold items*, new releases that no train user has: no successor step or
   popularity draw leads to one, and only val and test users meet them. A val/test user's
   taste steps *before* its last interaction pick cold items of its theme; its last
   interaction (the sample's target), when it is a taste step, picks one of the theme's
   other items, as every train user's taste step does. So the evidence of a val/test user's
   taste lies in ids never seen in training — an id-based recommender cannot read the taste
   from them — while their titles share the theme words of the target, a familiar item that
   a model reading titles can pick, having learnt from the train users' taste steps that
   the next item often shares the history's dominant theme.

Mixing, per step after the first item (a popularity draw): taste ``p_taste``; first successor
``(1 - p_taste) * p_first``; second ``(1 - p_taste) * p_second``; popularity the rest. An item
already in the sequence is skipped (the other successor, then fresh popularity draws; a taste
step with no unused item of its pool becomes a walk step), so there are no repeats.
``synthetic_truth`` returns which signal produced each sample's target.

Train users give one sample per interaction, val/test users their last one (the LLaRA
recipe); samples with fewer than ``min_history`` history items are dropped. Everything comes
from one ``numpy.random.default_rng(seed)``: the same seed gives the same bytes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llara_core.data.dataset import Dataset, Split
from llara_core.data.sequences import UserSequence, build_split
from llara_core.errors import DataError

#: theme -> (adjectives, nouns); titles are "Adjective Noun" or "The Adjective Noun"
THEMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "sea": (
        ("Salt", "Tidal", "Coral", "Sunken", "Drifting", "Azure", "Briny", "Stormy"),
        ("Harbor", "Reef", "Lighthouse", "Anchor", "Current", "Lagoon", "Mariner", "Shoal"),
    ),
    "night": (
        ("Midnight", "Starless", "Lunar", "Twilight", "Silent", "Nocturnal", "Velvet", "Dusky"),
        ("Lantern", "Eclipse", "Comet", "Owl", "Vigil", "Nebula", "Dreamer", "Constellation"),
    ),
    "metal": (
        ("Copper", "Iron", "Brass", "Rusted", "Silver", "Steel", "Cobalt", "Bronze"),
        ("Foundry", "Engine", "Gearwork", "Furnace", "Railway", "Anvil", "Clocktower", "Piston"),
    ),
    "garden": (
        ("Blooming", "Verdant", "Wild", "Mossy", "Fragrant", "Thorny", "Emerald", "Dewy"),
        ("Garden", "Orchard", "Meadow", "Willow", "Blossom", "Ivy", "Greenhouse", "Fern"),
    ),
    "desert": (
        ("Scorched", "Golden", "Dusty", "Arid", "Sunlit", "Amber", "Shifting", "Parched"),
        ("Dune", "Oasis", "Mirage", "Caravan", "Canyon", "Scorpion", "Sandstorm", "Mesa"),
    ),
    "winter": (
        ("Frozen", "Frosty", "Snowy", "Glacial", "Icy", "Pale", "Wintry", "Crystal"),
        ("Glacier", "Blizzard", "Tundra", "Icicle", "Avalanche", "Snowfall", "Sleigh", "Igloo"),
    ),
    "city": (
        ("Neon", "Crooked", "Rainy", "Smoky", "Hidden", "Electric", "Downtown", "Restless"),
        (
            "Alley",
            "Skyline",
            "Detective",
            "Boulevard",
            "Subway",
            "Rooftop",
            "Saxophone",
            "Precinct",
        ),
    ),
    "kingdom": (
        ("Royal", "Ancient", "Gilded", "Fallen", "Crimson", "Noble", "Forgotten", "Sacred"),
        ("Crown", "Castle", "Throne", "Knight", "Kingdom", "Banner", "Chalice", "Dynasty"),
    ),
    "forest": (
        ("Howling", "Misty", "Shadowed", "Hollow", "Tangled", "Feral", "Elder", "Whispering"),
        ("Wolf", "Forest", "Thicket", "Bramble", "Stag", "Grove", "Badger", "Timberland"),
    ),
    "space": (
        ("Orbital", "Quantum", "Cosmic", "Stellar", "Atomic", "Galactic", "Binary", "Solar"),
        ("Rocket", "Satellite", "Asteroid", "Voyager", "Station", "Android", "Pulsar", "Frontier"),
    ),
}


def _conflicts(title: str, taken: list[str]) -> bool:
    t = title.casefold()
    return any(t in o or o in t for o in taken)


def make_titles(
    n_items: int, rng: np.random.Generator, p_article: float = 0.25
) -> tuple[list[str], list[str]]:
    """(titles, theme of each title): ``n_items`` titles spread evenly over the themes, in a
    random order; distinct, and none a case-folded substring of another."""
    themes = list(THEMES)
    per_theme = [n_items // len(themes) + (k < n_items % len(themes)) for k in range(len(themes))]
    titles: list[str] = []
    theme_of: list[str] = []
    folded: list[str] = []
    for theme, want in zip(themes, per_theme):
        adjectives, nouns = THEMES[theme]
        combos = [(a, n) for a in adjectives for n in nouns]
        got = 0
        for k in rng.permutation(len(combos)).tolist():
            if got == want:
                break
            a, n = combos[k]
            title = f"The {a} {n}" if rng.random() < p_article else f"{a} {n}"
            if _conflicts(title, folded):
                continue
            titles.append(title)
            theme_of.append(theme)
            folded.append(title.casefold())
            got += 1
        if got < want:
            raise DataError(
                f"synthetic: theme {theme!r} can make {got} titles, {want} asked; lower n_items"
            )
    order = rng.permutation(len(titles)).tolist()
    return [titles[i] for i in order], [theme_of[i] for i in order]


#: the signal that produced a sample's target (``synthetic_truth(...)["signal"]``)
SIGNALS = ("transition", "taste", "popularity")


def _catalogue_and_graph(
    rng: np.random.Generator, n_items: int, n_groups: int | None = None, cold_frac: float = 0.0
) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(titles, themes, successors, groups, cold): the first draws of every synthetic dataset.
    ``cold`` marks ``round(cold_frac * k)`` random items of each theme of ``k`` items. The
    successor graph ignores the titles: two distinct successors per item, never the item itself
    and never a cold item; with ``n_groups``, items fall into that many hidden behaviour groups
    (balanced, random, independent of the themes) and successors stay inside the item's group."""
    titles, themes = make_titles(n_items, rng)
    theme_arr = np.asarray(themes)
    cold = np.zeros(n_items, dtype=bool)
    if cold_frac > 0:
        for theme in THEMES:
            members = np.flatnonzero(theme_arr == theme)
            k = int(round(cold_frac * len(members)))
            if k:
                cold[rng.choice(members, size=k, replace=False)] = True
    groups = np.zeros(n_items, dtype=np.int64)
    if n_groups:
        groups = rng.permutation(np.arange(n_items) % n_groups)
    successors = np.empty((n_items, 2), dtype=np.int64)
    for i in range(n_items):
        pool = np.flatnonzero((groups == groups[i]) & (np.arange(n_items) != i) & ~cold)
        if len(pool) < 2:
            raise DataError(f"synthetic: item {i} has {len(pool)} possible successors; lower n_groups or cold_frac")
        successors[i] = rng.choice(pool, size=2, replace=False)
    return titles, themes, successors, groups, cold


def _generate(
    seed: int = 0,
    n_items: int = 300,
    n_train_users: int = 600,
    n_val_users: int = 100,
    n_test_users: int = 100,
    min_len: int = 6,
    max_len: int = 20,
    history_len: int = 10,
    min_history: int = 3,
    p_first: float = 0.6,
    p_second: float = 0.25,
    zipf: float = 0.8,
    n_groups: int | None = None,
    p_taste: float = 0.3,
    cold_frac: float = 0.2,
) -> tuple[Dataset, dict[str, Any]]:
    if not 10 <= n_items <= 640:
        raise DataError(f"synthetic: n_items {n_items} outside 10..640")
    if not 0 <= p_first + p_second <= 1 or min(p_first, p_second) < 0:
        raise DataError(f"synthetic: p_first {p_first} + p_second {p_second} must lie in [0, 1]")
    if not 0 <= p_taste < 1:
        raise DataError(f"synthetic: p_taste {p_taste} must lie in [0, 1)")
    if not 0 <= cold_frac < 1:
        raise DataError(f"synthetic: cold_frac {cold_frac} must lie in [0, 1)")
    if not min_history + 1 <= min_len <= max_len:
        raise DataError(
            f"synthetic: need min_history + 1 <= min_len <= max_len, got {min_history}, {min_len}, {max_len}"
        )
    rng = np.random.default_rng(seed)
    titles, themes, successors, item_groups, cold = _catalogue_and_graph(rng, n_items, n_groups, cold_frac)
    ranks = rng.permutation(n_items)
    popularity = np.where(cold, 0.0, 1.0 / (ranks + 10.0) ** zipf)
    popularity /= popularity.sum()
    theme_names = list(THEMES)
    theme_arr = np.asarray(themes)
    # taste pools per theme: (its known items, its cold items)
    pools = {
        t: (np.flatnonzero((theme_arr == t) & ~cold).tolist(), np.flatnonzero((theme_arr == t) & cold).tolist())
        for t in theme_names
    }

    def popular(seen: set[int]) -> int:
        while True:
            x = int(rng.choice(n_items, p=popularity))
            if x not in seen:
                return x

    n_users = n_train_users + n_val_users + n_test_users
    sequences: dict[int, UserSequence] = {}
    signal_codes: dict[int, UserSequence] = {}  # the same shape, items replaced by SIGNALS indices
    user_theme: list[str] = []
    for user in range(n_users):
        length = int(rng.integers(min_len, max_len + 1))
        theme = theme_names[int(rng.integers(len(theme_names)))]
        user_theme.append(theme)
        items = [popular(set())]
        codes = [SIGNALS.index("popularity")]
        seen = set(items)
        walk = items[0]
        while len(items) < length:
            if p_taste > 0 and rng.random() < p_taste:
                # a val/test user's earlier taste steps pick cold items (new releases no train
                # user has); its last interaction (the sample's target) picks a known item
                cold_step = user >= n_train_users and len(items) < length - 1
                unused = [x for x in pools[theme][1 if cold_step else 0] if x not in seen]
                if unused:
                    nxt = int(unused[int(rng.integers(len(unused)))])
                    items.append(nxt)
                    codes.append(SIGNALS.index("taste"))
                    seen.add(nxt)
                    continue
            first, second = successors[walk].tolist()
            r = rng.random()
            order = (
                [first, second]
                if r < p_first
                else [second, first]
                if r < p_first + p_second
                else []
            )
            nxt = next((x for x in order if x not in seen), None)
            code = SIGNALS.index("transition")
            if nxt is None:
                nxt = popular(seen)
                code = SIGNALS.index("popularity")
            items.append(nxt)
            codes.append(code)
            seen.add(nxt)
            walk = nxt
        sequences[user] = UserSequence(items, [None] * len(items))
        signal_codes[user] = UserSequence(codes, [None] * len(codes))

    groups = {
        "train": (range(n_train_users), "all"),
        "val": (range(n_train_users, n_train_users + n_val_users), "last"),
        "test": (range(n_train_users + n_val_users, n_users), "last"),
    }
    splits: dict[str, Split] = {}
    before: dict[str, int] = {}
    signal: dict[str, list[str]] = {}
    for name, (users, mode) in groups.items():
        splits[name], before[name] = build_split(
            name, users, sequences, history_len, min_history, mode
        )
        # the same filter on the signal codes keeps exactly the same samples, in the same order
        coded, _ = build_split(name, users, signal_codes, history_len, min_history, mode)
        signal[name] = [SIGNALS[c] for c in coded.targets]
    params: dict[str, Any] = {
        "seed": seed,
        "n_items": n_items,
        "n_train_users": n_train_users,
        "n_val_users": n_val_users,
        "n_test_users": n_test_users,
        "min_len": min_len,
        "max_len": max_len,
        "history_len": history_len,
        "min_history": min_history,
        "p_first": p_first,
        "p_second": p_second,
        "zipf": zipf,
        "n_groups": n_groups,
        "p_taste": p_taste,
        "cold_frac": cold_frac,
    }
    source = {
        "kind": "synthetic",
        "params": params,
        "themes": sorted(THEMES),
        "samples_before_filter": before,
        "target_signal_counts": {
            name: {s: values.count(s) for s in SIGNALS} for name, values in signal.items()
        },
    }
    dataset = Dataset(
        name=f"synthetic-seed{seed}", domain="movie", titles=titles, splits=splits, source=source
    )
    truth = {
        "themes": themes,
        "successors": successors,
        "groups": item_groups,
        "cold": cold,
        "user_theme": user_theme,
        "signal": signal,
    }
    return dataset, truth


def make_synthetic(
    seed: int = 0,
    n_items: int = 300,
    n_train_users: int = 600,
    n_val_users: int = 100,
    n_test_users: int = 100,
    min_len: int = 6,
    max_len: int = 20,
    history_len: int = 10,
    min_history: int = 3,
    p_first: float = 0.6,
    p_second: float = 0.25,
    zipf: float = 0.8,
    n_groups: int | None = None,
    p_taste: float = 0.3,
    cold_frac: float = 0.2,
) -> Dataset:
    """The synthetic dataset of ``seed`` (see the module docstring).

    Sequence lengths are uniform in ``[min_len, max_len]`` interactions; popularity weights are
    ``1 / (rank + 10) ** zipf`` over a random ranking of the items (0 for cold items).
    ``p_taste = 0`` leaves only the transition signal (cold items then never occur).
    """
    return _generate(**{k: v for k, v in locals().items()})[0]


def synthetic_truth(seed: int = 0, n_items: int = 300, n_groups: int | None = None, **params: Any) -> dict[str, Any]:
    """The hidden parts of ``make_synthetic(seed, n_items=n_items, n_groups=n_groups, **params)``
    (for tests and analysis; pass the same arguments): ``themes`` (theme of each item id),
    ``successors`` ((n_items, 2) int64 array), ``groups``, ``cold`` (bool per item),
    ``user_theme`` (taste theme of each user id) and ``signal`` (split -> the signal of each
    sample's target, one of ``SIGNALS``, in sample order)."""
    return _generate(seed=seed, n_items=n_items, n_groups=n_groups, **params)[1]
