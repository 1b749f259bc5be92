"""The functions behind the public API in ``harness/__init__.py``.

Each one is a thin adaptor over the module that does the work: it accepts the
forms a library user has at hand (file paths or program text, engine and
profile names) and hands a :class:`~harness.lang.program.Program`, an engine name
and a :class:`~harness.vocab.profiles.Profile` to :mod:`harness.lang.parser`,
:mod:`harness.oracle.run`, :mod:`harness.oracle.diff` or :mod:`harness.oracle.reproducers`.
The command line goes through these functions too.
"""

from __future__ import annotations

import os

from harness.engines import ENGINES, EngineError, default_engine
from harness.lang.parser import parse as _parse_text
from harness.lang.parser import parse_file
from harness.lang.program import Program
from harness.oracle.diff import Divergence, Side
from harness.oracle.diff import diff as _diff
from harness.oracle.run import run as _run
from harness.vocab.errors import HarnessError
from harness.vocab.profiles import PROFILES, Profile
from harness.vocab.trace import Trace

__all__ = ["diff", "minimize", "parse", "read_program", "resolve_profile", "run", "side"]

#: What names a side of a comparison: ``(engine, profile)``; the profile may be
#: a Profile, a profile name, or None for the program's own ``@profile``.
SideSpec = tuple[str, Profile | str | None]
#: The suffix that makes a string argument of :func:`parse` a file name.
PROGRAM_SUFFIX = ".wsa"


def read_program(path: str | os.PathLike[str]) -> Program:
    """Read and parse a program file.  Problems with the file itself (missing,
    a directory, unreadable) are HarnessErrors naming it; bad text is a
    ProgramError ``FILE:LINE: message``."""
    return parse_file(path)


def parse(source: str | os.PathLike[str], filename: str | None = None) -> Program:
    """A program from a file or from text.

    A :class:`pathlib.Path` (any ``os.PathLike``), or a one-line string ending
    in ``.wsa``, is read as a file.  Any other string is program text, and
    ``filename`` (default ``<program>``) names it in error messages.
    """
    if not isinstance(source, str):
        return read_program(source)
    if "\n" not in source and "\r" not in source and source.strip().endswith(PROGRAM_SUFFIX):
        # No step name ends in ".wsa", so such a string can only mean a file.
        return read_program(source.strip())
    return _parse_text(source, filename or "<program>")


def resolve_profile(profile: Profile | str | None, program: Program | None = None) -> Profile:
    """A Profile from a Profile, a profile name, or None (the program's header,
    else ``documented``)."""
    if isinstance(profile, Profile):
        return profile
    if profile is None:
        return program.profile if program is not None else PROFILES["documented"]
    if profile not in PROFILES:
        raise HarnessError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    return PROFILES[profile]


def _engine(engine: str | None) -> str:
    if engine is None:
        return default_engine()
    if engine not in ENGINES:
        raise EngineError(f"unknown engine {engine!r} (known: {', '.join(ENGINES)})")
    return engine


def _program(program: object) -> Program:
    if not isinstance(program, Program):
        raise TypeError(
            f"expected a harness Program, got {type(program).__name__} (use harness.parse)"
        )
    return program


def run(
    program: Program,
    engine: str | None = None,
    profile: Profile | str | None = None,
    timeout: float | None = None,
) -> Trace:
    """Run ``program`` on ``engine`` (``core`` or ``reference``; default
    :func:`harness.engines.default_engine`) under ``profile`` (default: the
    program's ``@profile``).  Engine faults raise
    :class:`~harness.oracle.faults.EngineFault` (with ``timeout`` seconds the
    run is in a child, so hangs and fatal signals are caught too)."""
    program = _program(program)
    return _run(program, _engine(engine), resolve_profile(profile, program), timeout)


def side(spec: SideSpec | Side, program: Program) -> Side:
    """A comparison side from ``(engine, profile)``, resolved against ``program``."""
    if isinstance(spec, Side):
        return spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise TypeError(f"a side is (engine, profile), got {spec!r}")
    engine, profile = spec
    return Side(_engine(engine), resolve_profile(profile, program))


def diff(
    program: Program,
    a: SideSpec | Side = ("reference", None),
    b: SideSpec | Side = ("core", None),
    timeout: float | None = None,
) -> Divergence | None:
    """The first divergence between two sides, or None when they agree on every
    result, event and the final snapshot.  Each side is ``(engine, profile)``;
    a profile of None means the program's ``@profile``.  An engine that
    raises or returns a malformed trace (or, with ``timeout`` seconds, hangs
    or dies) raises :class:`~harness.oracle.faults.EngineFault`."""
    program = _program(program)
    return _diff(program, side(a, program), side(b, program), timeout)


def minimize(
    program: Program,
    a: SideSpec | Side = ("reference", None),
    b: SideSpec | Side = ("core", None),
) -> Program:
    """The smallest program found that still diverges between ``a`` and ``b``
    with the same signature, as a reproducer: expectations filled in from the
    reference side (else side a) and a header comment naming the signature.

    Raises HarnessError when the two sides agree on ``program``.
    """
    from harness.oracle.reproducers import build

    program = _program(program)
    sa, sb = side(a, program), side(b, program)
    found = _diff(program, sa, sb)
    if found is None:
        raise HarnessError(
            f"{program.filename}: {sa.label} and {sb.label} agree; there is nothing to minimize"
        )
    return build(program, sa, sb, found.signature, None).program
