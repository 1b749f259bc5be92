"""Every seed and regression program round-trips through the printer and keeps
the invariants after every step.  That each passes --check on both engines,
under the profile its header names, is checked by the .wsa items the pytest
plugin collects from corpus/ (``corpus/seeds/NAME.wsa::core``)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from harness.lang.parser import parse, parse_file
from harness.lang.render import format_program, same_program
from harness.oracle.run import stepwise

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
FILES = sorted(CORPUS.glob("seeds/*.wsa")) + sorted(CORPUS.glob("regressions/*.wsa"))


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.name}" for p in paths]


def test_seed_corpus_is_substantial() -> None:
    assert len(list(CORPUS.glob("seeds/*.wsa"))) >= 40


def test_corpus_files_are_collected_by_the_wsa_plugin(pytestconfig: pytest.Config) -> None:
    """The .wsa files are checked against their expectations, on every engine,
    as test items of their own (harness/library/pytest_plugin.py, the pytest11 entry
    point): without the plugin they would silently not run."""
    assert pytestconfig.pluginmanager.has_plugin("wsa_harness"), (
        "the wsa_harness pytest plugin is not loaded: reinstall (`make venv`) so that "
        "its entry point exists"
    )
    assert "corpus" in pytestconfig.getini("testpaths")


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_program_round_trips(path: Path) -> None:
    program = parse_file(path)
    again = parse(format_program(program), str(path))
    assert same_program(program, again)


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_invariants_hold_after_every_step(engine_module: ModuleType, path: Path) -> None:
    program = parse_file(path)
    engine = engine_module.Engine(program.profile, program.limits)
    for step, _ in stepwise(program, engine):
        assert engine.check_invariants() == [], f"{path}:{step.line}"
