"""Curriculum schedulers: p(t) values, bounds, purity and state_dict, for every registered one."""

from __future__ import annotations

import json
import math
import random

import pytest
from pydantic import ValidationError

from llara_core.slots import CURRICULUM_SCHEDULERS as CURRICULA

ALL = CURRICULA.names()


def curve(scheduler, total: int) -> list[float]:
    return [scheduler(t, total) for t in range(total)]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("total", [1, 2, 7, 100])
def test_every_curriculum_gives_probabilities(name, total):
    sched = CURRICULA.build(name)
    assert isinstance(sched, CURRICULA.interface)
    for p in curve(sched, total):
        assert isinstance(p, float) and 0.0 <= p <= 1.0


@pytest.mark.parametrize("name", ALL)
def test_every_curriculum_is_a_pure_function_of_the_step(name):
    """The reference kept the counter in the collate function (per worker, reset every epoch);
    here p depends on (step, total) only: call order, repetition and a fresh instance agree."""
    total = 50
    expected = curve(CURRICULA.build(name), total)
    sched = CURRICULA.build(name)
    steps = list(range(total)) * 2
    random.Random(0).shuffle(steps)
    assert [sched(t, total) for t in steps] == [expected[t] for t in steps]


@pytest.mark.parametrize("name", ALL)
def test_every_curriculum_state_dict_round_trips_through_json(name):
    sched = CURRICULA.build(name)
    state = json.loads(json.dumps(sched.state_dict()))
    other = CURRICULA.build(name)
    other.load_state_dict(state)
    assert other.params == sched.params
    assert curve(other, 20) == curve(sched, 20)


@pytest.mark.parametrize("name", ALL)
def test_every_curriculum_rejects_zero_total_steps(name):
    with pytest.raises(ValueError, match="total_steps"):
        CURRICULA.build(name)(0, 0)


def test_linear_is_llaras_t_over_T():
    sched = CURRICULA.build("linear")
    total = 11
    values = curve(sched, total)
    assert values[0] == 0.0 and values[-1] == 1.0
    for t, p in enumerate(values):
        assert p == pytest.approx(t / (total - 1))
    assert all(a < b for a, b in zip(values, values[1:]))  # strictly increasing
    assert sched(total + 5, total) == 1.0  # past the plan (e.g. a resumed, extended run) stays 1


def test_linear_with_start_and_end_and_state_dict():
    sched = CURRICULA.build("linear", {"start": 0.2, "end": 0.8})
    assert sched(0, 5) == pytest.approx(0.2)
    assert sched(2, 5) == pytest.approx(0.5)
    assert sched(4, 5) == pytest.approx(0.8)
    restored = CURRICULA.build("linear")
    assert restored(4, 5) == 1.0
    restored.load_state_dict(sched.state_dict())
    assert restored(4, 5) == pytest.approx(0.8)
    assert sched.state_dict()["params"] == {"start": 0.2, "end": 0.8}


def test_constant():
    assert set(curve(CURRICULA.build("constant"), 10)) == {1.0}
    assert set(curve(CURRICULA.build("constant", {"p": 0.0}), 10)) == {0.0}
    assert set(curve(CURRICULA.build("constant", {"p": 0.3}), 10)) == {0.3}
    with pytest.raises(ValidationError):
        CURRICULA.build("constant", {"p": 1.2})


def test_step_switches_at_the_boundaries():
    half = curve(CURRICULA.build("step"), 11)  # progress t/10; the default switch is at 0.5
    assert half == [0.0] * 5 + [1.0] * 6
    three = CURRICULA.build("step", {"boundaries": [0.25, 0.75], "values": [0.0, 0.5, 1.0]})
    assert curve(three, 5) == [0.0, 0.5, 0.5, 1.0, 1.0]  # progress 0, .25, .5, .75, 1


@pytest.mark.parametrize(
    "params",
    [
        {"boundaries": [0.5], "values": [0.0]},
        {"boundaries": [0.7, 0.3], "values": [0.0, 0.5, 1.0]},
        {"boundaries": [0.0], "values": [0.0, 1.0]},
        {"boundaries": [0.5], "values": [0.0, 2.0]},
    ],
)
def test_step_rejects_inconsistent_params(params):
    with pytest.raises(ValidationError):
        CURRICULA.build("step", params)


def test_cosine_is_monotone_symmetric_and_slower_than_linear_at_first():
    total = 21
    cos = curve(CURRICULA.build("cosine"), total)
    lin = curve(CURRICULA.build("linear"), total)
    assert cos[0] == 0.0 and cos[-1] == pytest.approx(1.0)
    assert cos[10] == pytest.approx(0.5)
    assert all(a < b for a, b in zip(cos, cos[1:]))
    for t in range(total):
        assert cos[t] + cos[total - 1 - t] == pytest.approx(1.0)
        assert cos[t] == pytest.approx((1 - math.cos(math.pi * t / (total - 1))) / 2)
    assert all(cos[t] < lin[t] for t in range(1, 10))
