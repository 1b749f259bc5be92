"""The hand-written mutants (bench/mutants/*.patch) against the current core.

A later change of harness/_core.pyx or its .pxi includes that breaks a patch
fails here, so the patch is refreshed with the change, not found stale at
benchmark time.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.bugbench.build import build_key, cache_dir
from harness.bugbench.mutants import (
    MUTANTS_DIR,
    Mutant,
    MutantError,
    apply_patch,
    code_lines,
    core_sources,
    load_mutants,
    parse_header,
    write_tree,
)
from harness.vocab.profiles import PROFILES
from harness.vocab.rules import RULES

PATCHES = sorted(MUTANTS_DIR.glob("*.patch"))
#: marks a cache entry whose sources Cython translated without error
TRANSLATED = "translated.ok"


def test_there_are_at_least_fifteen_mutants_with_distinct_numbers() -> None:
    mutants = load_mutants()
    assert len(mutants) >= 15
    numbers = [m.name[:2] for m in mutants]
    assert len(set(numbers)) == len(numbers)


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.stem)
def test_header_names_a_rule_and_a_profile(patch: Path) -> None:
    m = parse_header(patch)
    assert m.rule in RULES
    assert m.profile in PROFILES
    assert m.description and "\n" not in m.description


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.stem)
def test_patch_applies_to_the_current_core_and_changes_code(patch: Path) -> None:
    base = core_sources()
    mutated = apply_patch(patch, base)
    changed = [rel for rel in base if mutated[rel] != base[rel]]
    assert changed, "the patch changes nothing"
    assert any(code_lines(mutated[rel]) != code_lines(base[rel]) for rel in changed), (
        "the patch changes only comments or layout"
    )


def test_a_stale_patch_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "99-stale.patch"
    lines = PATCHES[0].read_text().splitlines(keepends=True)
    hunk = next(i for i, line in enumerate(lines) if line.startswith("@@"))
    lines[hunk + 1] = " # a context line the core does not have\n"
    bad.write_text("".join(lines))
    with pytest.raises(MutantError, match=r"99-stale.patch:1: does not apply"):
        apply_patch(bad, core_sources())


def test_header_errors_name_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "98-bad.patch"
    bad.write_text("Mutant: 98-bad\nRule: XX-1\n")
    with pytest.raises(MutantError, match=r"98-bad.patch:2: unknown rule id 'XX-1'"):
        parse_header(bad)


TRANSLATE = """
import sys
from Cython.Build import cythonize
cythonize(["harness/_core.pyx"], quiet=True, compiler_directives={"language_level": 3},
          compile_time_env={"WSA_DEBUG": 0}, force=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.stem)
def test_mutant_builds(patch: Path, tmp_path: Path) -> None:
    """The mutant compiles.  A benchmark build from the very same sources in
    the build cache proves it (a cached failure fails); otherwise Cython must
    translate it, which is where a patch can break.  A translation that
    passed is remembered there too (the key covers the sources and the tool
    versions), so only a change of the core costs the translations again."""
    m: Mutant = parse_header(patch)
    assert m.path is not None
    sources = apply_patch(m.path, core_sources())
    entry = cache_dir() / build_key(sources)
    assert not (entry / "build-error.log").exists(), (entry / "build-error.log").read_text()
    if list(entry.glob("_core*")) or (entry / TRANSLATED).exists():
        return
    write_tree(tmp_path, sources)
    done = subprocess.run(
        [sys.executable, "-c", TRANSLATE], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "harness" / "_core.c").stat().st_size > 0
    entry.mkdir(parents=True, exist_ok=True)
    (entry / TRANSLATED).write_text(f"{patch.name}\n")
    shutil.rmtree(tmp_path / "harness", ignore_errors=True)
