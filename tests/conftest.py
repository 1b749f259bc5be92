"""Engine fixtures: every engine test runs against both engines.

A test that takes ``engine_module`` runs once per engine, with ids
``reference`` (``harness.reference``, pure Python) and ``core``
(``harness._core``, compiled).  Both expose ``Engine(profile, limits)`` and
``run_lowered(lowered, profile, limits)`` (docs/engines.md).

Each engine is imported by its own module name, never through a fallback, so
a core that is missing, fails to import or is older than its ``.pyx`` is an
error, not a quiet second run of the reference model.  ``make`` builds it.
To test the reference model alone, set ``WSA_HARNESS_NO_CORE=1``: the ``core``
parameter is then not generated at all.  Core runs carry the ``core`` marker,
so ``-m "not core"`` deselects them as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from types import ModuleType

import pytest

from harness.engines import NO_CORE_ENV, no_core

REPO = Path(__file__).resolve().parent.parent
ENGINE_API = ("Engine", "run_lowered")
#: what the core is compiled from (the Makefile rebuilds it when one of them changes);
#: harness/_records.pyx is a module of its own, with its own test
CORE_SOURCES = ("_core*.pyx", "_core*.pxd", "_core*.pxi")


@dataclass(frozen=True)
class EngineVariant:
    """One engine implementation, named by its test id and module."""

    id: str
    module_name: str
    compiled: bool

    def load(self) -> ModuleType:
        """Import the engine module, failing the test with a how-to-fix message."""
        try:
            module = import_module(self.module_name)
        except ModuleNotFoundError as exc:
            if exc.name not in (self.module_name, *_parents(self.module_name)):
                raise  # the module exists but something it imports does not
            module = None
        if module is None:
            pytest.fail(self._missing_message(), pytrace=False)
        if self.compiled:
            _fail_if_stale(module)
        missing = [name for name in ENGINE_API if not hasattr(module, name)]
        if missing:
            pytest.fail(
                f"{self.module_name} does not provide {', '.join(missing)} (docs/engines.md)",
                pytrace=False,
            )
        return module

    def _missing_message(self) -> str:
        if self.compiled and not (REPO / "harness" / "_core.pyx").exists():
            return (
                f"the compiled core {self.module_name} cannot be built: harness/_core.pyx does "
                f"not exist yet.  Set {NO_CORE_ENV}=1 to test the reference model only."
            )
        if self.compiled:
            return (
                f"the compiled core {self.module_name} is not built.  Run `make` "
                f"(or `.venv/bin/python setup.py build_ext --inplace`) to build it, or set "
                f"{NO_CORE_ENV}=1 to test the reference model only."
            )
        return f"the reference model {self.module_name} cannot be imported: it does not exist yet."


def _parents(module_name: str) -> tuple[str, ...]:
    parts = module_name.split(".")
    return tuple(".".join(parts[:i]) for i in range(1, len(parts)))


def _fail_if_stale(module: ModuleType) -> None:
    """Fail when an in-tree build of the core is older than a source it was built from."""
    built = Path(module.__file__ or "")
    if built.parent != REPO / "harness":
        return  # an installed copy: its sources are whatever was installed with it
    sources = [p for pattern in CORE_SOURCES for p in built.parent.glob(pattern)]
    newer = [p.name for p in sources if p.stat().st_mtime > built.stat().st_mtime]
    if newer:
        pytest.fail(
            f"{built.name} is older than {', '.join(sorted(newer))}: run `make` to rebuild "
            f"the core before testing it.",
            pytrace=False,
        )


REFERENCE = EngineVariant(id="reference", module_name="harness.reference", compiled=False)
CORE = EngineVariant(id="core", module_name="harness._core", compiled=True)


def _engine_params() -> list[object]:
    params: list[object] = [pytest.param(REFERENCE, id=REFERENCE.id)]
    if not no_core():
        params.append(pytest.param(CORE, id=CORE.id, marks=pytest.mark.core))
    return params


@pytest.fixture(scope="session", params=_engine_params())
def engine_module(request: pytest.FixtureRequest) -> ModuleType:
    """The engine module under test: harness.reference, then harness._core."""
    variant: EngineVariant = request.param
    return variant.load()


def pytest_report_header(config: pytest.Config) -> str:
    if no_core():
        return f"engines: reference only ({NO_CORE_ENV} is set)"
    return "engines: reference, core"


#: Under pytest-xdist (`make test` runs two workers), each group runs on one
#: worker: the tests that start real stacks (Wine's prefix and server, the
#: drivers built in build/conformance) never start or build them twice at
#: once, and a file's tests stay together, so a module fixture is made once.
_GROUPS = {
    "real-stacks": ("tests/conformance/", "tests/fuzz/test_real.py"),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    root = Path(str(config.rootpath))
    for item in items:
        rel = Path(str(item.path)).relative_to(root).as_posix()
        group = next((g for g, where in _GROUPS.items() if rel.startswith(where)), None)
        if group is None and item.get_closest_marker("conformance") is not None:
            group = "real-stacks"
        item.add_marker(pytest.mark.xdist_group(group or rel))
