"""The checks of the conformance kit, one list per slot (see :mod:`llara_core.testing`).

Every check takes a :class:`Subject` (a registry, a registered name, params), builds the
component through the registry with exactly the runtime arguments its slot passes, and raises
:class:`~llara_core.errors.ConformanceError` (an ``AssertionError``) naming the component, its
distribution and the check when the component breaks its slot's contract. torch is imported
inside the checks that need it.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from llara_core.errors import ConformanceError, LlaraError, MissingDependencyError
from llara_core.registry import Registry

#: set to 1 to include expensive components (``expensive_to_check``) in parametrize_with_checks
EXPENSIVE_ENV = "LLARA_CHECK_EXPENSIVE"

N_ITEMS = 23  # a catalogue size no embedding width of a real model equals (+1 = the padding row)
PROJECTOR_SIZES = ((12, 20), (16, 16))  # tried in order: a projector may refuse a pair (identity)
DOMAINS = ("movie", "music", "game", "item")
TOTALS = (1, 2, 7, 100, 1000)
#: the runtime argument every slot passes, as a test builds them (prompt builders get TITLES)
TITLES = tuple(f"{w} {i}" for i, w in enumerate(
    "Harbor Lights,The Silent River,Midnight Garden,Copper Island,Blue Valley,Iron Road,"
    "A Summer Story,Golden Desert,Winter City,The Last Dragon,Secret Forest,Little Star,"
    "Ocean Dream,Red Mountain,Lost House,Morning Song,Dark Light,Great King,Old Friend,"
    "New World,Green Ghost,Silver Queen,Black Night,White Day,Space Time,Family Hero,"
    "Love War,First Child,City River,Forest Life".split(",")
))


class SkipCheck(Exception):
    """A check that cannot run here: a missing optional dependency (the component raised
    :class:`~llara_core.errors.MissingDependencyError`) or params it needs and was not given."""


def expect(condition: Any, message: str) -> None:
    """``assert`` that also runs under ``python -O``."""
    if not condition:
        raise AssertionError(message)


@dataclass
class Subject:
    """One component under test: a registry, a name registered in it and the params to use."""

    registry: Registry
    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        try:
            p = self.registry.provider(self.name)
            dist = f"{p.distribution} {p.version}" if p.version else p.distribution
        except LlaraError:
            dist = "unknown distribution"
        return f"{self.registry.slot} {self.name!r} ({dist})"

    def impl(self) -> type:
        return self.registry.resolve(self.name)[0]

    def __post_init__(self) -> None:
        self._params: dict[str, Any] | None = None

    @property
    def used_params(self) -> dict[str, Any]:
        """The params given, else the implementation's ``check_params``, else none."""
        if self._params is None:
            given = dict(self.params)
            if not given:
                given = dict(getattr(self.impl(), "check_params", None) or {})
            self._params = given
        return self._params

    def validated(self) -> BaseModel:
        params = self.used_params
        try:
            return self.registry.validate_params(self.name, params)
        except ValidationError as exc:
            if params:
                raise
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors())
            raise SkipCheck(f"{self.label()} needs params ({problems}): pass params=, or set check_params "
                            f"on the class") from exc

    def build(self, **runtime: Any) -> Any:
        return self.registry.build(self.name, self.validated(), **runtime)

    def construct(self, **runtime: Any) -> Any:
        """The implementation constructed directly (no registry): validated fields by keyword,
        plus the runtime arguments its constructor accepts."""
        impl, params = self.impl(), self.validated()
        accepted = self.registry._runtime_for(self.name, impl, runtime)
        return impl(**{k: getattr(params, k) for k in type(params).model_fields}, **accepted)


@dataclass(frozen=True)
class Check:
    """One named check of one component; calling it runs it."""

    subject: Subject
    name: str
    func: Callable[[Subject], None]
    doc: str

    @property
    def id(self) -> str:
        return f"{self.subject.registry.slot}-{self.subject.name}-{self.name}"

    def expensive(self) -> bool:
        """Whether the component declares ``expensive_to_check`` (False when it cannot load:
        then the check runs and reports the load error)."""
        try:
            return bool(getattr(self.subject.impl(), "expensive_to_check", False))
        except LlaraError:
            return False

    def __call__(self) -> None:
        try:
            self.func(self.subject)
        except SkipCheck:
            raise
        except MissingDependencyError as exc:
            raise SkipCheck(f"{self.subject.label()}: {exc}") from exc
        except ConformanceError:
            raise
        except Exception as exc:
            detail = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
            raise ConformanceError(f"{self.subject.label()} fails {self.name}: {detail}") from exc

    def __repr__(self) -> str:
        return f"<check {self.id}>"


#: slot -> [(check name, function, one-line description)]
CHECKS: dict[str, list[tuple[str, Callable[[Subject], None], str]]] = {}


def _check(slot: str, name: str | None = None) -> Callable:
    """Register the decorated function as check ``name`` (default: its name without the slot
    prefix) of ``slot``; its docstring's first line describes it."""

    def register(func: Callable[[Subject], None]) -> Callable[[Subject], None]:
        doc = (func.__doc__ or "").strip().splitlines()[0]
        CHECKS.setdefault(slot, []).append((name or func.__name__.split("__", 1)[-1], func, doc))
        return func

    return register


def _torch():
    import torch

    return torch


def _json_ready(value: Any, what: str) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{what} is not JSON-serialisable: {exc}") from exc


def _hyperparameters(subject: Subject, obj: Any, how: str) -> None:
    expected = subject.validated().model_dump(mode="json")
    got = obj.hyperparameters()
    expect(isinstance(got, dict), f"hyperparameters() of {how} returned {type(got).__name__}, not a dict")
    _json_ready(got, f"hyperparameters() of {how}")
    expect(got == expected, f"hyperparameters() of {how} is {got}, expected the validated params {expected}")
    runtime = {a.name for a in subject.registry.runtime or ()}
    expect(not runtime & set(got), f"hyperparameters() holds runtime arguments {sorted(runtime & set(got))}")


def _generic_hyperparameter_checks(slot: str, runtime: Callable[[Subject], dict[str, Any]]) -> None:
    def hyperparameters_come_from_params(s: Subject) -> None:
        """hyperparameters() of a built component are its validated params (JSON), and rebuild it"""
        obj = s.build(**runtime(s))
        _hyperparameters(s, obj, "a registry-built instance")
        again = s.registry.build(s.name, obj.hyperparameters(), **runtime(s))
        expect(again.hyperparameters() == obj.hyperparameters(), "rebuilding from hyperparameters() changes them")

    def hyperparameters_without_the_registry(s: Subject) -> None:
        """hyperparameters() of an instance constructed directly (no registry, no private attribute)"""
        _hyperparameters(s, s.construct(**runtime(s)), "a directly constructed instance")

    for func in (hyperparameters_come_from_params, hyperparameters_without_the_registry):
        _check(slot)(func)


# =========================================================================== item encoders
def _histories(enc: Any, length: int, batch: int = 7, seed: int = 0):
    """Histories of lengths 1..length (one full row), real items first, then padding."""
    torch = _torch()
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([(i % length) + 1 for i in range(batch)], dtype=torch.long)
    lengths[0] = length
    hist = torch.full((batch, length), int(enc.pad_id), dtype=torch.long)
    for i, n in enumerate(lengths.tolist()):
        hist[i, :n] = torch.randint(0, enc.n_items, (n,), generator=g)
    return hist, lengths


def _padding_rows(enc: Any) -> list[tuple[str, Any]]:
    """Parameters with one row per item plus the padding row (``(n_items + 1, ...)``)."""
    return [(n, p) for n, p in enc.named_parameters() if p.dim() >= 1 and p.shape[0] == enc.n_items + 1]


def _item_encoder(s: Subject) -> Any:
    return s.build(n_items=N_ITEMS)


@_check("item_encoders")
def encoder__builds_with_runtime_arguments(s: Subject) -> None:
    """built as cls(n_items=..., **params); sets n_items, dim, history_len; pad_id is n_items"""
    from llara_core.interfaces.item_encoder import ItemEncoder

    enc = _item_encoder(s)
    expect(isinstance(enc, ItemEncoder), f"built a {type(enc).__qualname__}, not an ItemEncoder")
    for attr in ("n_items", "dim", "history_len"):
        value = getattr(enc, attr, None)
        expect(isinstance(value, int) and not isinstance(value, bool) and value > 0,
               f"attribute {attr} must be a positive int set in __init__, got {value!r}")
    expect(enc.n_items == N_ITEMS, f"n_items is {enc.n_items}, built with n_items={N_ITEMS}")
    expect(enc.pad_id == N_ITEMS, f"pad_id is {enc.pad_id}, must be n_items ({N_ITEMS})")


_generic_hyperparameter_checks("item_encoders", lambda s: {"n_items": N_ITEMS})


@_check("item_encoders")
def encoder__embed_items_shapes_and_dtype(s: Subject) -> None:
    """embed_items maps ids of any shape (...) to float (..., dim), padding ids included"""
    torch = _torch()
    enc = _item_encoder(s).eval()
    dtype = next(enc.parameters(), torch.empty(0)).dtype
    for ids in (torch.tensor(3), torch.tensor([0, 5, N_ITEMS]), torch.tensor([[1, 2, 3], [4, N_ITEMS, N_ITEMS]])):
        with torch.no_grad():
            out = enc.embed_items(ids)
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (*ids.shape, enc.dim),
               f"embed_items of shape {tuple(ids.shape)} gave {tuple(getattr(out, 'shape', ()))}, "
               f"expected {(*ids.shape, enc.dim)}")
        expect(out.dtype.is_floating_point and out.dtype == dtype, f"embed_items gave {out.dtype}, expected {dtype}")


@_check("item_encoders")
def encoder__score_shapes_and_dtype(s: Subject) -> None:
    """score((B, L) padded history, (B,) lengths) is finite float (B, n_items) for L <= history_len; forward is score"""
    torch = _torch()
    enc = _item_encoder(s).eval()
    for length in sorted({enc.history_len, max(1, enc.history_len // 2), 1}):
        hist, lengths = _histories(enc, length)
        with torch.no_grad():
            scores = enc.score(hist, lengths)
            forward = enc(hist, lengths)
        expect(tuple(scores.shape) == (len(hist), N_ITEMS),
               f"score of a ({len(hist)}, {length}) history gave {tuple(scores.shape)}, expected {(len(hist), N_ITEMS)}")
        expect(scores.dtype.is_floating_point, f"score gave {scores.dtype}")
        expect(bool(torch.isfinite(scores).all()), "score gave non-finite values")
        expect(torch.equal(scores, forward), "forward(history, lengths) differs from score(history, lengths)")


@_check("item_encoders")
def encoder__padding_does_not_change_scores(s: Subject) -> None:
    """neither the padding row's content nor the amount of trailing padding changes the scores"""
    torch = _torch()
    enc = _item_encoder(s).eval()
    hist, lengths = _histories(enc, enc.history_len)
    hist, lengths = hist[1:], lengths[1:]  # every row padded
    with torch.no_grad():
        before = enc.score(hist, lengths)
        for _, p in _padding_rows(enc):
            p[enc.n_items] = torch.randn_like(p[enc.n_items]) * 10
        after = enc.score(hist, lengths)
        trimmed = enc.score(hist[:, : int(lengths.max())], lengths)
    expect(torch.allclose(before, after, rtol=1e-5, atol=1e-5),
           "changing the padding row of an (n_items + 1, ...) parameter changed the scores")
    expect(torch.allclose(before, trimmed, rtol=1e-5, atol=1e-5),
           "removing trailing padding columns changed the scores")


@_check("item_encoders")
def encoder__padding_gets_no_gradient(s: Subject) -> None:
    """score's gradient reaches the parameters but never the padding row, in train and eval mode"""
    torch = _torch()
    enc = _item_encoder(s)
    hist, lengths = _histories(enc, enc.history_len)
    rows = _padding_rows(enc)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for train in (True, False):
            enc.train(train).zero_grad()
            enc.score(hist, lengths).logsumexp(1).sum().backward()
            mode = "train" if train else "eval"
            for name, p in rows:
                expect(p.grad is None or torch.count_nonzero(p.grad[enc.n_items]) == 0,
                       f"{mode} mode: the padding row {name}[{enc.n_items}] received a gradient")
            expect(any(p.grad is not None and torch.count_nonzero(p.grad) > 0 for p in enc.parameters()),
                   f"{mode} mode: no parameter received a gradient from score()")


@_check("item_encoders")
def encoder__frozen_and_deterministic_in_eval_mode(s: Subject) -> None:
    """frozen (requires_grad_(False), eval) as inside LLaRA: same scores and embeddings every call"""
    torch = _torch()
    enc = _item_encoder(s)
    enc.requires_grad_(False).eval()
    hist, lengths = _histories(enc, enc.history_len)
    a, b = enc.score(hist, lengths), enc.score(hist, lengths)
    expect(torch.equal(a, b), "two score() calls in eval mode differ")
    expect(torch.equal(enc.embed_items(hist), enc.embed_items(hist)), "two embed_items() calls in eval mode differ")


@_check("item_encoders")
def encoder__save_and_reload_round_trip(s: Subject) -> None:
    """a checkpoint (safetensors + config.json) reloads the same class, hyper-parameters and scores"""
    torch = _torch()
    from llara_core.slots import ITEM_ENCODERS

    enc = _item_encoder(s).eval()
    with torch.no_grad():
        for p in enc.parameters():  # as if trained: no longer the initialisation
            p.add_(torch.randn_like(p) * 0.01)
    hist, lengths = _histories(enc, enc.history_len)
    with tempfile.TemporaryDirectory() as folder:
        if s.registry is ITEM_ENCODERS:
            from llara_core.sr.checkpoint import load_item_encoder, save_item_encoder

            save_item_encoder(enc, s.name, folder)
            loaded, config = load_item_encoder(folder)
            expect(config["params"] == enc.hyperparameters(),
                   f"the checkpoint stores params {config['params']}, hyperparameters() is {enc.hyperparameters()}")
        else:  # a registry of its own: the same round trip by hand
            loaded = s.registry.build(s.name, enc.hyperparameters(), n_items=enc.n_items)
            loaded.load_state_dict(enc.state_dict())
            loaded.eval()
    expect(type(loaded) is type(enc), f"reloaded a {type(loaded).__qualname__}, saved a {type(enc).__qualname__}")
    expect(loaded.hyperparameters() == enc.hyperparameters(),
           f"reloaded hyper-parameters {loaded.hyperparameters()} differ from {enc.hyperparameters()}")
    with torch.no_grad():
        expect(torch.allclose(loaded.score(hist, lengths), enc.score(hist, lengths), rtol=1e-5, atol=1e-6),
               "the reloaded encoder scores differently")


# =========================================================================== projectors
def _projector(s: Subject, dtype: Any = None) -> Any:
    """The projector at the first size pair it accepts (a LlaraError refuses a pair)."""
    refusals = []
    for in_dim, out_dim in PROJECTOR_SIZES:
        try:
            proj = s.build(in_dim=in_dim, out_dim=out_dim)
        except SkipCheck:
            raise
        except LlaraError as exc:
            refusals.append(f"({in_dim}, {out_dim}): {exc}")
            continue
        proj._conformance_sizes = (in_dim, out_dim)
        return proj if dtype is None else proj.to(dtype)
    raise AssertionError("refused every size pair tried: " + "; ".join(refusals))


def _sizes(proj: Any) -> tuple[int, int]:
    return proj._conformance_sizes


@_check("projectors")
def projector__builds_with_runtime_arguments(s: Subject) -> None:
    """built as cls(in_dim=..., out_dim=..., **params); refuses a size pair only with a LlaraError"""
    from llara_core.interfaces.projector import Projector

    proj = _projector(s)
    expect(isinstance(proj, Projector), f"built a {type(proj).__qualname__}, not a Projector")


_generic_hyperparameter_checks(
    "projectors", lambda s: dict(zip(("in_dim", "out_dim"), _sizes(_projector(s))))
)


@_check("projectors")
def projector__maps_the_last_dimension(s: Subject) -> None:
    """(..., in_dim) -> (..., out_dim) float for any leading shape, each row mapped on its own"""
    torch = _torch()
    proj = _projector(s).eval()
    in_dim, out_dim = _sizes(proj)
    g = torch.Generator().manual_seed(0)
    for lead in ((), (3,), (2, 3)):
        x = torch.randn(*lead, in_dim, generator=g)
        with torch.no_grad():
            y = proj(x)
        expect(tuple(y.shape) == (*lead, out_dim), f"input {tuple(x.shape)} gave {tuple(y.shape)}, expected {(*lead, out_dim)}")
        expect(y.dtype == torch.float32, f"float32 input gave {y.dtype}")
        if lead:
            with torch.no_grad():
                one = proj(x.reshape(-1, in_dim)[:1])
            expect(torch.allclose(one, y.reshape(-1, out_dim)[:1], rtol=1e-5, atol=1e-6),
                   "projecting one row alone differs from projecting it within a batch")


@_check("projectors")
def projector__follows_the_dtype(s: Subject) -> None:
    """converted with .to(float64), it maps float64 inputs to float64 outputs"""
    torch = _torch()
    proj = _projector(s, torch.float64).eval()
    in_dim, _ = _sizes(proj)
    with torch.no_grad():
        y = proj(torch.randn(4, in_dim, dtype=torch.float64))
    expect(y.dtype == torch.float64, f"float64 input and parameters gave {y.dtype}")


@_check("projectors")
def projector__every_parameter_trainable(s: Subject) -> None:
    """every parameter requires grad and receives a gradient; the input receives one too"""
    torch = _torch()
    proj = _projector(s).train()
    in_dim, _ = _sizes(proj)
    x = torch.randn(5, in_dim, requires_grad=True)
    proj(x).pow(2).sum().backward()
    for name, p in proj.named_parameters():
        expect(p.requires_grad, f"parameter {name} does not require grad")
        expect(p.grad is not None, f"parameter {name} receives no gradient")
    expect(x.grad is not None and bool(torch.isfinite(x.grad).all()), "no finite gradient reaches the input")


@_check("projectors")
def projector__state_dict_round_trip(s: Subject) -> None:
    """the state dict of one instance loaded into another gives the same outputs (run checkpoints)"""
    torch = _torch()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        a = _projector(s).eval()
        torch.manual_seed(2)
        b = _projector(s).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(3, _sizes(a)[0])
    with torch.no_grad():
        expect(torch.allclose(a(x), b(x)), "after load_state_dict the outputs differ")


# =========================================================================== prompt builders
def _prompt_builder(s: Subject, domain: str = "item") -> Any:
    return s.build(titles=list(TITLES), dataset_domain=domain)


def _samples() -> list[Any]:
    from llara_core.interfaces.prompt_builder import PromptSample

    rng = random.Random(0)
    out = []
    for n_history, n_candidates, target in ((1, 2, True), (3, 5, True), (10, 20, True), (4, 6, False)):
        items = rng.sample(range(len(TITLES)), n_history + n_candidates)
        history, candidates = items[:n_history], items[n_history:]
        out.append(PromptSample(tuple(history), tuple(candidates), rng.choice(candidates) if target else None))
    return out


def _prompts(builder: Any):
    from llara_core.interfaces.prompt_builder import PromptMode

    for index in range(builder.n_templates):
        for mode in PromptMode:
            for sample in _samples():
                yield index, mode, sample, builder.build(sample, mode, index)


@_check("prompt_builders")
def prompts__builds_with_runtime_arguments(s: Subject) -> None:
    """built as cls(titles=..., dataset_domain=..., **params) for every domain; n_templates, placeholder, special_tokens"""
    from llara_core.interfaces.prompt_builder import PromptBuilder

    for domain in DOMAINS:
        builder = _prompt_builder(s, domain)
        expect(isinstance(builder, PromptBuilder), f"built a {type(builder).__qualname__}, not a PromptBuilder")
        n = builder.n_templates
        expect(isinstance(n, int) and not isinstance(n, bool) and n >= 1, f"n_templates must be an int >= 1, got {n!r}")
        expect(isinstance(builder.placeholder, str) and builder.placeholder.strip(),
               f"placeholder must be a non-empty str, got {builder.placeholder!r}")
        tokens = builder.special_tokens()
        expect(isinstance(tokens, list) and all(isinstance(t, str) for t in tokens),
               f"special_tokens() must be a list of str, got {tokens!r}")
        expect(builder.placeholder in tokens, f"special_tokens() {tokens} lacks the placeholder {builder.placeholder!r}")


_generic_hyperparameter_checks("prompt_builders", lambda s: {"titles": list(TITLES), "dataset_domain": "item"})


@_check("prompt_builders")
def prompts__titles_are_single_lines(s: Subject) -> None:
    """title(i) is a non-empty one-line str for every item"""
    builder = _prompt_builder(s)
    for i in range(len(TITLES)):
        title = builder.title(i)
        expect(isinstance(title, str) and title.strip() and "\n" not in title,
               f"title({i}) must be a non-empty single line, got {title!r}")
        expect(builder.placeholder not in title, f"title({i}) contains the placeholder")


@_check("prompt_builders")
def prompts__placeholder_count_per_template(s: Subject) -> None:
    """in every template and mode: one placeholder per item id, the sample's items, none in text mode"""
    from llara_core.interfaces.prompt_builder import Prompt, PromptMode

    builder = _prompt_builder(s)
    for index, mode, sample, prompt in _prompts(builder):
        where = f"template {index}, {mode.value} mode"
        expect(isinstance(prompt, Prompt), f"{where}: build returned {type(prompt).__qualname__}, not a Prompt")
        expect(prompt.template_index == index, f"{where}: Prompt.template_index is {prompt.template_index}")
        expect(isinstance(prompt.item_ids, tuple), f"{where}: item_ids must be a tuple")
        count = prompt.text.count(builder.placeholder)
        expect(count == len(prompt.item_ids),
               f"{where}: {count} placeholders in the text for {len(prompt.item_ids)} item ids")
        if mode is PromptMode.TEXT:
            expect(count == 0, f"{where}: {count} placeholders in a text-only prompt")
        else:
            expect(Counter(prompt.item_ids) == Counter([*sample.history, *sample.candidates]),
                   f"{where}: item ids {prompt.item_ids} are not the history and candidates {sample}")


@_check("prompt_builders")
def prompts__items_appear_in_text_order(s: Subject) -> None:
    """hybrid mode: each placeholder right after its item's title; text mode: every title shown"""
    from llara_core.interfaces.prompt_builder import PromptMode

    builder = _prompt_builder(s)
    for index, mode, sample, prompt in _prompts(builder):
        where = f"template {index}, {mode.value} mode"
        if mode is PromptMode.HYBRID:
            start = 0
            for k, item in enumerate(prompt.item_ids):
                pos = prompt.text.index(builder.placeholder, start)
                expect(prompt.text[:pos].rstrip().endswith(builder.title(item)),
                       f"{where}: placeholder {k} does not follow the title of item_ids[{k}] = {item}")
                start = pos + len(builder.placeholder)
        elif mode is PromptMode.TEXT:
            missing = [i for i in (*sample.history, *sample.candidates) if builder.title(i) not in prompt.text]
            expect(not missing, f"{where}: the titles of items {missing} are not in the text")


@_check("prompt_builders")
def prompts__target_is_the_title(s: Subject) -> None:
    """Prompt.target is title(sample.target), None without a target"""
    builder = _prompt_builder(s)
    for index, mode, sample, prompt in _prompts(builder):
        expected = None if sample.target is None else builder.title(sample.target)
        expect(prompt.target == expected, f"template {index}, {mode.value} mode: target {prompt.target!r}, expected {expected!r}")


@_check("prompt_builders")
def prompts__build_is_pure(s: Subject) -> None:
    """the same arguments give the same prompt, whatever was built before"""
    from llara_core.interfaces.prompt_builder import PromptMode

    builder, fresh = _prompt_builder(s), _prompt_builder(s)
    samples = _samples()
    first = [builder.build(x, PromptMode.HYBRID, 0) for x in samples]
    list(_prompts(builder))
    again = [builder.build(x, PromptMode.HYBRID, 0) for x in samples]
    other = [fresh.build(x, PromptMode.HYBRID, 0) for x in samples]
    expect(first == again, "building other prompts in between changed a prompt")
    expect(first == other, "two builders with the same arguments build different prompts")


# =========================================================================== curricula
@_check("curriculum_schedulers")
def curriculum__builds_without_runtime_arguments(s: Subject) -> None:
    """built as cls(**params); params is the validated Params"""
    from llara_core.interfaces.curriculum import CurriculumScheduler

    sched = s.build()
    expect(isinstance(sched, CurriculumScheduler), f"built a {type(sched).__qualname__}, not a CurriculumScheduler")
    expect(sched.params == s.validated(), f"params is {sched.params!r}, expected {s.validated()!r}")


_generic_hyperparameter_checks("curriculum_schedulers", lambda s: {})


def _curve(sched: Any, total: int) -> list[float]:
    return [sched(t, total) for t in range(total + 1)]


@_check("curriculum_schedulers")
def curriculum__probabilities_in_range(s: Subject) -> None:
    """scheduler(step, total) and probability(step, total) are floats in [0, 1] for steps 0..total"""
    sched = s.build()
    for total in TOTALS:
        for step in range(total + 1):
            raw = sched.probability(step, total)
            p = sched(step, total)
            expect(isinstance(p, float) and 0.0 <= p <= 1.0, f"scheduler({step}, {total}) = {p!r}")
            expect(isinstance(raw, (int, float)) and math.isfinite(raw) and -1e-9 <= raw <= 1 + 1e-9,
                   f"probability({step}, {total}) = {raw!r} is not a probability")


@_check("curriculum_schedulers")
def curriculum__pure_function_of_the_step(s: Subject) -> None:
    """call order, repetition and a fresh instance give the same p(t)"""
    total = 50
    expected = _curve(s.build(), total)
    sched = s.build()
    steps = list(range(total + 1)) * 2
    random.Random(0).shuffle(steps)
    expect([sched(t, total) for t in steps] == [expected[t] for t in steps],
           "p(t) depends on the order of the calls (state kept between calls?)")


@_check("curriculum_schedulers")
def curriculum__state_dict_round_trip(s: Subject) -> None:
    """state_dict() is JSON-ready and restores params and p(t) into a fresh instance"""
    sched = s.build()
    state = sched.state_dict()
    _json_ready(state, "state_dict()")
    other = s.build()
    other.load_state_dict(json.loads(json.dumps(state)))
    expect(other.params == sched.params, "load_state_dict(state_dict()) does not restore the params")
    expect(_curve(other, 20) == _curve(sched, 20), "load_state_dict(state_dict()) changes p(t)")


@_check("curriculum_schedulers")
def curriculum__rejects_zero_total_steps(s: Subject) -> None:
    """scheduler(0, 0) raises a LlaraError that is a ValueError"""
    sched = s.build()
    try:
        sched(0, 0)
    except ValueError as exc:
        expect(isinstance(exc, LlaraError), f"raised {type(exc).__qualname__}, not a LlaraError")
    else:
        raise AssertionError("scheduler(0, 0) did not raise")


# =========================================================================== backbones
@_check("backbones")
def backbone__builds_without_runtime_arguments(s: Subject) -> None:
    """built as cls(**params) without loading anything; params is the validated Params"""
    from llara_core.interfaces.backbone import BackboneLoader

    loader = s.build()
    expect(isinstance(loader, BackboneLoader), f"built a {type(loader).__qualname__}, not a BackboneLoader")
    expect(loader.params == s.validated(), f"params is {loader.params!r}, expected {s.validated()!r}")


_generic_hyperparameter_checks("backbones", lambda s: {})


@_check("backbones")
def backbone__loads_a_causal_lm(s: Subject) -> None:
    """load(): a causal LM (all parameters trainable) fed inputs_embeds, a tokenizer with a pad token that takes the placeholder"""
    torch = _torch()
    from llara_core.interfaces.backbone import Backbone, BackboneOptions
    from llara_core.interfaces.prompt_builder import ITEM_PLACEHOLDER
    from llara_core.model.backbone_setup import DTYPES
    from llara_core.model.tokens import add_special_tokens

    loader = s.build()
    backbone = loader.load()
    expect(isinstance(backbone, Backbone), f"load() returned {type(backbone).__qualname__}, not a Backbone")
    model, tok = backbone.model, backbone.tokenizer
    expect(isinstance(backbone.use_chat_template, bool), f"use_chat_template is {backbone.use_chat_template!r}")
    expect(isinstance(backbone.identity, Mapping), "identity must be a mapping")
    _json_ready(dict(backbone.identity), "identity")
    expect(tok.pad_token_id is not None, "the tokenizer has no pad token")
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    expect(not frozen, f"parameters that do not require grad: {frozen[:3]}")
    if isinstance(loader.params, BackboneOptions):
        dtype = DTYPES[loader.params.dtype]
        expect(all(p.dtype == dtype for p in model.parameters()), f"parameters are not {dtype}")
    embeddings = model.get_input_embeddings()
    ids = [tok("Recommend the next item.", add_special_tokens=True).input_ids, tok("The answer", add_special_tokens=True).input_ids]
    width = max(map(len, ids))
    input_ids = torch.full((2, width), tok.pad_token_id, dtype=torch.long)
    mask = torch.zeros((2, width), dtype=torch.long)
    for row, seq in enumerate(ids):  # left padding, as llara batches
        input_ids[row, width - len(seq):] = torch.tensor(seq)
        mask[row, width - len(seq):] = 1
    with torch.no_grad():
        out = model(inputs_embeds=embeddings(input_ids), attention_mask=mask,
                    position_ids=(mask.cumsum(-1) - 1).clamp(min=0), labels=input_ids.masked_fill(mask == 0, -100))
    expect(tuple(out.logits.shape[:2]) == (2, width) and out.logits.shape[-1] > int(input_ids.max()),
           f"logits of shape {tuple(out.logits.shape)} for a (2, {width}) batch")
    expect(bool(torch.isfinite(out.loss)), "the LM loss is not finite")
    placeholder = add_special_tokens(tok, model, [ITEM_PLACEHOLDER])[ITEM_PLACEHOLDER]
    encoded = tok(f"a {ITEM_PLACEHOLDER} b", add_special_tokens=False).input_ids
    expect(encoded.count(placeholder) == 1, f"the placeholder is not one token: {encoded}")


# =========================================================================== running checks
def _slots() -> dict[str, Registry]:
    from llara_core.slots import SLOTS

    return SLOTS


def checks_for(registry: Registry, name: str, params: Mapping[str, Any] | None = None) -> list[Check]:
    """Every check of ``registry``'s slot for component ``name`` built with ``params``."""
    subject = Subject(registry, name, dict(params or {}))
    return [Check(subject, check_name, func, doc) for check_name, func, doc in CHECKS[registry.slot]]


@contextlib.contextmanager
def _subject_name(registry: Registry, component: str | type) -> Iterator[str]:
    """A registered name for ``component``: the name itself, or a class registered for the
    duration (which runs the registration checks on it)."""
    if isinstance(component, str):
        yield component
        return
    name = f"conformance-{component.__module__}.{component.__qualname__}"
    registry.register(name, component, override=True)
    try:
        yield name
    finally:
        registry.unregister(name)


def run_checks(slot: str, component: str | type, params: Mapping[str, Any] | None = None,
               registry: Registry | None = None) -> dict[str, str]:
    """Run every check of ``slot`` on ``component`` (a registered name, or a class); raise
    ConformanceError at the first failure. Returns ``{check: "passed" | "skipped: <reason>"}``."""
    registry = registry if registry is not None else _slots()[slot]
    results: dict[str, str] = {}
    with _subject_name(registry, component) as name:
        for check in checks_for(registry, name, params):
            try:
                check()
            except SkipCheck as exc:
                results[check.name] = f"skipped: {exc}"
            else:
                results[check.name] = "passed"
    return results
