"""A deterministic synthetic catalogue for the offline quickstart and for fast tests.

Items have short readable titles (2-3 words: ``"Midnight Lantern"``, ``"The Copper Foundry"``)
built from the word banks of a few themes (sea, night, metal, garden, ...), so the theme is
visible in the words. Titles are distinct and none is a substring of another (evaluation
matches titles by case-folded substring).

Behaviour follows a hidden *successor graph* drawn independently of the themes and titles:
every item has a first and a second successor (uniform over the catalogue). A user starts at
an item drawn by popularity and walks: with probability ``p_first`` to the first successor of
its current item, with ``p_second`` to the second, otherwise to a popularity draw; an item
already in the user's sequence is skipped (the other successor, then fresh popularity draws).
So the next item is predictable from the previous one (a sequential recommender learns it)
but not from titles (a successor shares its predecessor's theme only by chance), and
popularity alone is weak.

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


def _catalogue_and_graph(
    rng: np.random.Generator, n_items: int, n_groups: int | None = None
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(titles, themes, successors, groups): the first draws of every synthetic dataset. The
    successor graph ignores the titles: two distinct successors per item, never the item itself;
    with ``n_groups``, items fall into that many hidden behaviour groups (balanced, random,
    independent of the themes) and successors stay inside the item's group."""
    titles, themes = make_titles(n_items, rng)
    groups = np.zeros(n_items, dtype=np.int64)
    if n_groups:
        groups = rng.permutation(np.arange(n_items) % n_groups)
    successors = np.empty((n_items, 2), dtype=np.int64)
    for i in range(n_items):
        pool = np.flatnonzero((groups == groups[i]) & (np.arange(n_items) != i))
        successors[i] = rng.choice(pool, size=2, replace=False)
    return titles, themes, successors, groups


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
) -> Dataset:
    """The synthetic dataset of ``seed`` (see the module docstring).

    Sequence lengths are uniform in ``[min_len, max_len]`` interactions; popularity weights are
    ``1 / (rank + 10) ** zipf`` over a random ranking of the items.
    """
    if not 10 <= n_items <= 640:
        raise DataError(f"synthetic: n_items {n_items} outside 10..640")
    if not 0 <= p_first + p_second <= 1 or min(p_first, p_second) < 0:
        raise DataError(f"synthetic: p_first {p_first} + p_second {p_second} must lie in [0, 1]")
    if not min_history + 1 <= min_len <= max_len:
        raise DataError(
            f"synthetic: need min_history + 1 <= min_len <= max_len, got {min_history}, {min_len}, {max_len}"
        )
    rng = np.random.default_rng(seed)
    titles, _, successors, _ = _catalogue_and_graph(rng, n_items, n_groups)
    ranks = rng.permutation(n_items)
    popularity = 1.0 / (ranks + 10.0) ** zipf
    popularity /= popularity.sum()

    def popular(seen: set[int]) -> int:
        while True:
            x = int(rng.choice(n_items, p=popularity))
            if x not in seen:
                return x

    n_users = n_train_users + n_val_users + n_test_users
    sequences: dict[int, UserSequence] = {}
    for user in range(n_users):
        length = int(rng.integers(min_len, max_len + 1))
        items = [popular(set())]
        seen = set(items)
        while len(items) < length:
            first, second = successors[items[-1]].tolist()
            r = rng.random()
            order = (
                [first, second]
                if r < p_first
                else [second, first]
                if r < p_first + p_second
                else []
            )
            nxt = next((x for x in order if x not in seen), None)
            if nxt is None:
                nxt = popular(seen)
            items.append(nxt)
            seen.add(nxt)
        sequences[user] = UserSequence(items, [None] * len(items))

    groups = {
        "train": (range(n_train_users), "all"),
        "val": (range(n_train_users, n_train_users + n_val_users), "last"),
        "test": (range(n_train_users + n_val_users, n_users), "last"),
    }
    splits: dict[str, Split] = {}
    before: dict[str, int] = {}
    for name, (users, mode) in groups.items():
        splits[name], before[name] = build_split(
            name, users, sequences, history_len, min_history, mode
        )
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
    }
    source = {
        "kind": "synthetic",
        "params": params,
        "themes": sorted(THEMES),
        "samples_before_filter": before,
    }
    return Dataset(
        name=f"synthetic-seed{seed}", domain="movie", titles=titles, splits=splits, source=source
    )


def synthetic_truth(seed: int = 0, n_items: int = 300, n_groups: int | None = None) -> dict[str, Any]:
    """The hidden parts of ``make_synthetic(seed, n_items=n_items)`` (for tests and analysis):
    ``themes`` (theme of each item id) and ``successors`` ((n_items, 2) int64 array)."""
    _, themes, successors, groups = _catalogue_and_graph(np.random.default_rng(seed), n_items, n_groups)
    return {"themes": themes, "successors": successors, "groups": groups}
