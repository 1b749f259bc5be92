"""``wsa-harness conformance``: programs against a real implementation."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.common import UsageError, load_program
from harness.conformance import engine_names
from harness.vocab import resources

if TYPE_CHECKING:
    from harness.conformance.engine import ExternalEngine
    from harness.conformance.known_differences import KnownEntry
    from harness.lang.program import Program

REPO = Path(__file__).resolve().parents[2]
_SEEDS = resources.seeds()
#: the checkout's corpus/seeds, else the wheel's harness/data/seeds
REPO_SEEDS = _SEEDS.path if _SEEDS is not None else REPO / "corpus" / "seeds"
#: conformance/known/ENGINE.txt: the differences from the engine's own profile
#: that no switch expresses (harness/conformance/known_differences.py).
REPO_KNOWN = REPO / "conformance" / "known"
#: ``--program-timeout``: the longest corpus program takes about 3.5 s (c07's linger waits).
DEFAULT_PROGRAM_TIMEOUT = 8.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "corpora", nargs="*", type=Path, metavar="CORPUS",
        help="folders of .wsa programs, or files (default: the seed corpus, corpus/seeds)",
    )  # fmt: skip
    p.add_argument(
        "--engine", choices=(*engine_names(), "windows"), required=True,
        help="the real implementation; windows only with --import (traces of exported programs)",
    )  # fmt: skip
    p.add_argument(
        "--import", dest="traces", type=Path, action="append", metavar="TRACE",
        help="compare the traces that exported programs printed (wsa-harness export c) instead "
        "of running an engine; may be repeated",
    )  # fmt: skip
    p.add_argument(
        "--program-timeout", type=float, default=DEFAULT_PROGRAM_TIMEOUT, metavar="S",
        help="seconds one program may take on the engine before its run stops as an error "
        "naming the step, and the engine is restarted (default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--also", metavar="PROFILES", default="",
        help="more profiles to compare with, comma-separated (e.g. linux for lwip): a column each",
    )  # fmt: skip
    p.add_argument(
        "--check", action="store_true",
        help="exit 1 on an engine or model error, when a program differs from the engine's own "
        "profile at a step its known-differences file does not list, or when an entry of that "
        "file is stale (its program no longer differs there)",
    )  # fmt: skip
    p.add_argument(
        "--known", type=Path, metavar="FILE",
        help="the known differences from the engine's own profile "
        "(default: conformance/known/ENGINE.txt of this checkout, if present)",
    )  # fmt: skip
    p.add_argument("--markdown", type=Path, help="also write the markdown table here")
    p.add_argument(
        "--docs", type=Path,
        help="replace the engine's table in this document (between its conformance markers)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no per-program progress lines")
    p.add_argument(
        "--steps", action="store_true",
        help="print every step as the model (under --profile) and the engine saw it",
    )  # fmt: skip
    p.add_argument(
        "--profile", metavar="NAME",
        help="the model's profile for --steps (default: the engine's own, else the file's)",
    )  # fmt: skip


def cmd_conformance(args: argparse.Namespace) -> int:
    from harness.conformance import engine_profile, open_engine
    from harness.conformance.known_differences import KnownFileError, load_known
    from harness.conformance.report import (
        collect,
        render_markdown,
        render_text,
        replace_section,
        run_report,
    )
    from harness.vocab.fsutil import write_atomic
    from harness.vocab.profiles import DOCUMENTED, PROFILES, WINDOWS

    own = "windows" if args.engine == "windows" else engine_profile(args.engine)
    measured = own if own in PROFILES else None
    known_path: Path | None = args.known
    if known_path is None and (REPO_KNOWN / f"{args.engine}.txt").is_file():
        known_path = REPO_KNOWN / f"{args.engine}.txt"
    try:
        known = load_known(known_path, args.engine) if known_path else {}
    except KnownFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    engine: ExternalEngine
    if args.traces:
        if args.corpora or args.steps:
            raise UsageError("--import TRACE compares the traced programs: no CORPUS, no --steps")
        programs, engine = _replay(args.engine, args.traces)
    else:
        if args.engine == "windows":
            raise UsageError(
                "--engine windows needs --import TRACE: run programs exported with "
                "`wsa-harness export c` on Windows and import what they print"
            )
        files = collect(args.corpora or [REPO_SEEDS])
        programs = [load_program(str(f)) for f in files]  # type: ignore[misc]
        if args.steps:
            return _steps(
                args.engine,
                programs,  # type: ignore[arg-type]
                args.profile or measured,
                known,
                args.program_timeout,
            )
        engine = open_engine(args.engine)
    profiles = [DOCUMENTED, WINDOWS]
    for name in filter(None, args.also.split(",")):
        if name not in PROFILES:
            raise UsageError(f"--also: unknown profile {name!r} (known: {', '.join(PROFILES)})")
        if PROFILES[name] not in profiles and name != measured:
            profiles.append(PROFILES[name])
    if measured and measured != "windows":
        profiles.append(PROFILES[measured])
    try:

        def progress(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        report = run_report(
            engine,
            programs,
            profiles,
            measured,
            None if args.quiet else progress,
            known,
            _shown(known_path) if known_path else None,
            args.program_timeout,
        )
    finally:
        engine.close()
    print(render_text(report), end="")
    imported = [w for t in args.traces or () for w in ("--import", str(t))]
    also = ["--also", args.also] if args.also else []
    shown = [*imported, "--engine", args.engine, *also, *(str(c) for c in args.corpora)]
    command = "wsa-harness conformance " + " ".join(shlex.quote(w) for w in shown)
    table = render_markdown(report, command)
    if args.markdown:
        write_atomic(args.markdown, table)
    if args.docs:
        write_atomic(args.docs, replace_section(args.docs.read_text(), args.engine, table))
    failures = report.failures()
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    if args.check and failures:
        return 1
    return 0


def _replay(name: str, traces: list[Path]) -> tuple[list[Program], ExternalEngine]:
    """The traced programs and an engine that replays their runs."""
    from harness.conformance import capabilities_of
    from harness.conformance.replay import ReplayEngine, load_traces

    runs = load_traces(traces)
    engine = ReplayEngine(name, capabilities_of(name), {p.filename: r for p, r in runs})
    return [p for p, _ in runs], engine


def _shown(path: Path) -> str:
    """A path as the report shows it: relative to the checkout when inside it."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def _steps(
    name: str,
    programs: list[object],
    profile_name: str | None,
    known: dict[str, KnownEntry],
    timeout: float,
) -> int:
    from harness.conformance import engine_profile, open_engine
    from harness.conformance.compare import compare_program, side_by_side
    from harness.conformance.known_differences import apply_known
    from harness.vocab.profiles import get_profile

    try:
        chosen = get_profile(profile_name) if profile_name else None
    except KeyError as exc:
        print(f"wsa-harness conformance: {exc.args[0]}", file=sys.stderr)
        return 2
    engine = open_engine(name)
    try:
        for program in programs:
            profile = chosen or program.profile  # type: ignore[attr-defined]
            lines = side_by_side(program, engine, profile, timeout)  # type: ignore[arg-type]
            if known and profile.name == engine_profile(name):
                v = compare_program(program, engine, [profile], timeout)[profile.name]  # type: ignore[arg-type]
                v, entry = apply_known(v, known)
                if entry is not None:
                    lines.append(f"--- known [{entry.name}] ({entry.source}): {entry.reason}")
            print("\n".join(lines) + "\n")
    finally:
        engine.close()
    return 0
