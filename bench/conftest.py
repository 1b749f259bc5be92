"""Benchmark fixtures: the two engines, and the core-versus-reference table.

Every suite runs the same work on the reference model and on the compiled core
in the same session.  Each benchmark records its best round through the
``speed`` fixture; at the end of the session the speed-ups (reference time
over core time, per step or per program) and growth ratios are written into
every benchmark's ``extra_info`` (so ``--benchmark-json`` carries them) and
printed as a table after pytest-benchmark's own.  Nothing here asserts a time.

The engines are imported by their own module names, as in tests/conftest.py:
a missing core is an error, not a quiet run of the reference model twice.
``WSA_HARNESS_NO_CORE=1`` (an explicit request) leaves the core parameter
out, and the table says so.
"""

from __future__ import annotations

from collections.abc import Generator
from importlib import import_module
from types import ModuleType
from typing import Any

import pytest
from ratios import Speed

from harness.engines import NO_CORE_ENV, no_core

ENGINE_MODULES = {"reference": "harness.reference", "core": "harness._core"}


def engine_ids() -> list[str]:
    return ["reference"] if no_core() else ["reference", "core"]


def load(engine_id: str) -> ModuleType:
    """Import one engine; a core that is not built fails the benchmark loudly."""
    name = ENGINE_MODULES[engine_id]
    try:
        return import_module(name)
    except ImportError as exc:
        if engine_id == "core":
            pytest.fail(
                f"the compiled core {name} cannot be imported ({exc}): run `make` to build it, "
                f"or set {NO_CORE_ENV}=1 to benchmark the reference model only",
                pytrace=False,
            )
        raise


@pytest.fixture(scope="session", params=engine_ids())
def engine(request: pytest.FixtureRequest) -> tuple[str, ModuleType]:
    """``(id, module)`` for each engine: reference, then core."""
    engine_id: str = request.param
    return engine_id, load(engine_id)


SPEED = pytest.StashKey[Speed]()
#: Lines of bench/test_conformance_engines.py, printed in their own section.
REAL = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SPEED] = Speed()
    config.stash[REAL] = []


@pytest.fixture
def real_lines(request: pytest.FixtureRequest) -> list[str]:
    """Where the real-engine benchmarks put the lines they print at the end."""
    return request.config.stash[REAL]


@pytest.fixture
def speed(request: pytest.FixtureRequest) -> Speed:
    """The session's record of measurements (see :class:`Speed`)."""
    return request.config.stash[SPEED]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> Generator[None, None, None]:
    # before pytest-benchmark saves its JSON, so the ratios are in it
    session.config.stash[SPEED].finish()
    yield


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if config.stash[REAL]:
        terminalreporter.section("real engines: programs/s, the engine's run against the model's")
        for line in config.stash[REAL]:
            terminalreporter.write_line(line)
    speed = config.stash[SPEED]
    if not speed.rows and not speed.not_run and not speed.notes:
        return
    tr = terminalreporter
    tr.section("core vs reference: best round per unit, speed-up = reference / core")
    if no_core():
        tr.write_line(f"{NO_CORE_ENV} is set: the core was not run, so there are no ratios")
    for line in speed.table():
        tr.write_line(line)
