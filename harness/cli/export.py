"""``wsa-harness export c``: programs as standalone Winsock C tests (for real Windows)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.cli.common import EXIT_OK, UsageError, load_program
from harness.vocab import resources

REPO = Path(__file__).resolve().parents[2]
_SEEDS = resources.seeds()
#: What ``--all`` exports without PROGRAM arguments: what ``make conformance`` runs
#: (the checkout's corpus/seeds, else the wheel's seeds; conformance/programs if present).
DEFAULT_CORPORA = (
    _SEEDS.path if _SEEDS is not None else REPO / "corpus" / "seeds",
    REPO / "conformance" / "programs",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("language", choices=("c",), help="the language to export to")
    p.add_argument(
        "programs", nargs="*", type=Path, metavar="PROGRAM",
        help="a .wsa program; with --all: folders or files (default: corpus/seeds and "
        "conformance/programs)",
    )  # fmt: skip
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="the C file to write")
    p.add_argument(
        "--prefix", action="store_true",
        help="a program with a step the export cannot express: export the steps before it "
        "(the comparison of a live engine ends there too) instead of refusing it",
    )  # fmt: skip
    p.add_argument(
        "--all", type=Path, metavar="DIR",
        help="export every program into DIR, with build-mingw.sh, build-msvc.bat and run-all.bat",
    )  # fmt: skip


def cmd_export(args: argparse.Namespace) -> int:
    from harness.conformance.export_c import export_corpus, export_program
    from harness.conformance.report import collect
    from harness.vocab.fsutil import write_atomic

    if args.all is not None:
        if args.output is not None:
            raise UsageError("--all DIR writes one file per program: -o is for one program")
        files = collect(args.programs or [p for p in DEFAULT_CORPORA if p.is_dir()])
        programs = [(load_program(str(f)), f.read_text()) for f in files]
        written, refused = export_corpus(programs, args.all, args.prefix)  # type: ignore[arg-type]
        for r in refused:
            print(f"skipped: {r}", file=sys.stderr)
        print(
            f"{len(written)} program(s) exported to {args.all}, {len(refused)} refused; "
            f"build with {args.all}/build-mingw.sh or {args.all}\\build-msvc.bat"
        )
        return EXIT_OK
    if len(args.programs) != 1 or args.output is None:
        raise UsageError("give one PROGRAM and -o FILE (or --all DIR)")
    path = args.programs[0]
    program = load_program(str(path))
    exported = export_program(program, path.read_text(), prefix=args.prefix)  # type: ignore[arg-type]
    write_atomic(args.output, exported.source)
    print(
        f"{args.output}: {exported.steps_run} step(s), {exported.checked} checked against "
        "the program's expectations"
    )
    return EXIT_OK
