"""Every seed and regression program passes --check on both engines, under
the profile its header names, and round-trips through the printer."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from harness.parser import parse, parse_file
from harness.render import format_program, same_program
from harness.runner import check, run, stepwise

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
FILES = sorted(CORPUS.glob("seeds/*.wsa")) + sorted(CORPUS.glob("regressions/*.wsa"))


def _ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.name}" for p in paths]


def test_seed_corpus_is_substantial() -> None:
    assert len(list(CORPUS.glob("seeds/*.wsa"))) >= 40


@pytest.mark.parametrize("path", FILES, ids=_ids(FILES))
def test_program_matches_expectations(engine_module: ModuleType, path: Path) -> None:
    program = parse_file(path)
    assert any(s.expect is not None for s in program.steps), "a corpus file must carry expectations"
    mismatches = check(program, run(program, engine_module))
    assert not mismatches, "\n".join(m.render(str(path)) for m in mismatches)


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
