"""``wsa-harness conformance``: programs against a real implementation."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from harness.external import EXTERNAL_ENGINES

REPO_SEEDS = Path(__file__).resolve().parents[2] / "corpus" / "seeds"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "corpora", nargs="*", type=Path, metavar="CORPUS",
        help="folders of .wsa programs, or files (default: corpus/seeds)",
    )  # fmt: skip
    p.add_argument("--engine", choices=EXTERNAL_ENGINES, required=True)
    p.add_argument(
        "--check", action="store_true",
        help="exit 1 on an engine error, or when a program differs from the engine's own profile",
    )  # fmt: skip
    p.add_argument("--markdown", type=Path, help="also write the markdown table here")
    p.add_argument(
        "--docs", type=Path,
        help="replace the engine's table in this document (between its conformance markers)",
    )  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no per-program progress lines")
    p.add_argument(
        "--steps", action="store_true",
        help="print every step as the model (first profile: the file's own) and the engine saw it",
    )  # fmt: skip


def cmd_conformance(args: argparse.Namespace) -> int:
    from harness.cli import load_program
    from harness.external import open_engine
    from harness.external.report import (
        collect,
        render_markdown,
        render_text,
        replace_section,
        run_report,
    )
    from harness.fsutil import write_atomic
    from harness.profiles import DOCUMENTED, PROFILES, WINDOWS

    files = collect(args.corpora or [REPO_SEEDS])
    programs = [load_program(str(f)) for f in files]
    if args.steps:
        return _steps(args.engine, programs)
    measured = args.engine if args.engine in PROFILES else None
    profiles = [DOCUMENTED, WINDOWS] + ([PROFILES[measured]] if measured else [])
    engine = open_engine(args.engine)
    try:

        def progress(line: str) -> None:
            print(line, file=sys.stderr, flush=True)

        report = run_report(
            engine,
            programs,  # type: ignore[arg-type]
            profiles,
            measured,
            None if args.quiet else progress,
        )
    finally:
        engine.close()
    print(render_text(report), end="")
    shown = ["--engine", args.engine, *(str(c) for c in args.corpora)]
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


def _steps(name: str, programs: list[object]) -> int:
    from harness.external import open_engine
    from harness.external.compare import side_by_side

    engine = open_engine(name)
    try:
        for program in programs:
            lines = side_by_side(program, engine, program.profile)  # type: ignore[arg-type, attr-defined]
            print("\n".join(lines) + "\n")
    finally:
        engine.close()
    return 0
