"""Hand-written mutants: ``bench/mutants/NN-name.patch``.

A patch file starts with a header, then the unified diff (``git apply``
ignores the header)::

    Mutant: 01-dup-close-keeps-ref
    Rule: CS-8
    Profile: documented
    Description: closesocket of a non-last descriptor ... (one line)

    --- a/harness/_core_calls.pxi
    +++ b/harness/_core_calls.pxi
    @@ ...

In a checkout they are read from ``bench/mutants``; an installed wheel carries
them as ``harness/data/mutants`` (:mod:`harness.vocab.resources`).

``Rule`` is a rule id of :mod:`harness.vocab.rules` (SEMANTICS.md); ``Profile`` is
the profile whose campaign shows the bug (``windows`` for a windows-only
switch).  The diff is against the committed core sources.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.vocab import resources
from harness.vocab.errors import HarnessError
from harness.vocab.profiles import PROFILES
from harness.vocab.rules import RULES

PACKAGE = Path(__file__).resolve().parent.parent
REPO = PACKAGE.parent
_FOUND = resources.mutants()
#: the checkout's bench/mutants, else the wheel's harness/data/mutants
MUTANTS_DIR = _FOUND.path if _FOUND is not None else REPO / "bench" / "mutants"
CORE_GLOBS = ("*.pyx", "*.pxi", "*.pxd")
HEADER_FIELDS = ("Mutant", "Rule", "Profile", "Description")
_NAME = re.compile(r"^\d\d-[a-z0-9-]+$")


class MutantError(HarnessError):
    """A mutant file is malformed or does not apply."""


@dataclass(frozen=True)
class Mutant:
    name: str
    rule: str
    profile: str
    description: str
    path: Path | None = None
    #: for automatic mutants: the sources, already mutated
    sources: dict[str, str] | None = None


def core_sources(package: Path = PACKAGE) -> dict[str, str]:
    """The compiled core's sources: ``harness/NAME`` -> text."""
    out: dict[str, str] = {}
    for pattern in CORE_GLOBS:
        for path in sorted(package.glob(pattern)):
            out[f"harness/{path.name}"] = path.read_text()
    if "harness/_core.pyx" not in out:
        raise MutantError(f"{package / '_core.pyx'}: the core's source is missing")
    return out


def parse_header(path: Path) -> Mutant:
    """The mutant described by ``path``'s header; errors name FILE:LINE."""
    fields: dict[str, str] = {}
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, 1):
        if line.startswith(("--- ", "diff ")):
            break
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        if not sep or key not in HEADER_FIELDS:
            raise MutantError(
                f"{path}:{number}: expected 'Field: value' with one of {HEADER_FIELDS}"
            )
        if key in fields:
            raise MutantError(f"{path}:{number}: {key} given twice")
        fields[key] = value.strip()
        if key == "Rule" and fields[key] not in RULES:
            raise MutantError(f"{path}:{number}: unknown rule id {fields[key]!r}")
        if key == "Profile" and fields[key] not in PROFILES:
            raise MutantError(f"{path}:{number}: unknown profile {fields[key]!r}")
        if key == "Mutant" and fields[key] != path.stem:
            raise MutantError(f"{path}:{number}: name {fields[key]!r} differs from the file name")
    missing = [k for k in HEADER_FIELDS if not fields.get(k)]
    if missing:
        raise MutantError(f"{path}:1: header lacks {', '.join(missing)}")
    if not _NAME.match(path.stem):
        raise MutantError(f"{path}:1: the file name must be NN-lowercase-words.patch")
    return Mutant(fields["Mutant"], fields["Rule"], fields["Profile"], fields["Description"], path)


def load_mutants(folder: Path = MUTANTS_DIR, only: list[str] | None = None) -> list[Mutant]:
    """Every ``*.patch`` in ``folder`` in name order; ``only`` filters by name
    or by number prefix (``07``)."""
    mutants = [parse_header(p) for p in sorted(folder.glob("*.patch"))]
    if not mutants:
        raise MutantError(
            f"{folder}: no *.patch mutants (a checkout has them in bench/mutants, "
            "a wheel in harness/data/mutants)"
        )
    if only:
        chosen = [
            m for m in mutants if any(m.name == o or m.name.startswith(o + "-") for o in only)
        ]
        unknown = [
            o for o in only if not any(m.name == o or m.name.startswith(o + "-") for m in chosen)
        ]
        if unknown:
            raise MutantError(f"{folder}: no mutant named {', '.join(unknown)}")
        mutants = chosen
    return mutants


def write_tree(root: Path, sources: dict[str, str]) -> None:
    for rel, text in sources.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)


def read_tree(root: Path, names: list[str]) -> dict[str, str]:
    return {rel: (root / rel).read_text() for rel in names}


def apply_patch(patch: Path, sources: dict[str, str]) -> dict[str, str]:
    """The sources with ``patch`` applied (``git apply`` in a scratch copy;
    no fuzz, no offsets beyond what git allows, no partial application)."""
    if shutil.which("git") is None:
        raise MutantError(f"{patch}:1: applying a mutant needs git, which is not on PATH")
    scratch = Path(tempfile.mkdtemp(prefix="wsa-mutant-"))
    try:
        write_tree(scratch, sources)
        done = subprocess.run(
            ["git", "apply", "--whitespace=nowarn", str(patch.resolve())],
            cwd=scratch, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            reason = done.stderr.strip().splitlines()
            raise MutantError(f"{patch}:1: does not apply: {reason[0] if reason else '?'}")
        return read_tree(scratch, list(sources))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def mutant_sources(mutant: Mutant, base: dict[str, str] | None = None) -> dict[str, str]:
    """The mutant's full core sources."""
    if mutant.sources is not None:
        return mutant.sources
    assert mutant.path is not None
    return apply_patch(mutant.path, base if base is not None else core_sources())


def code_lines(text: str) -> list[str]:
    """The lines that compile, without comments and blank lines: two sources
    with equal code lines differ at most in comments and layout."""
    out = []
    for line in text.splitlines():
        stripped = re.sub(r"\s+#[^\"']*$", "", line).rstrip()
        if stripped.strip() and not stripped.lstrip().startswith("#"):
            out.append(stripped)
    return out


def sources_hash(sources: dict[str, str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(sources):
        h.update(rel.encode() + b"\0" + sources[rel].encode() + b"\0")
    return h.hexdigest()
