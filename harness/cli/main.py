"""The ``wsa-harness`` command (also ``python -m harness``): one command table.

Every error the harness reports on purpose is printed as one precise line,
``FILE:LINE: message`` for program text and ``wsa-harness COMMAND: message``
otherwise, with a non-zero exit status; no traceback reaches the user.  Exit
codes (EXIT_CODES, the README's contract): 0 nothing found, 1 a finding or a
failure, 2 a usage or input error, 130 interrupted (findings saved).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from harness import __version__
from harness.cli import bench, conformance, export, fuzz, run
from harness.cli.common import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    HelpFormatter,
    Parser,
    UsageError,
    examples,
    subcommand,
)
from harness.vocab.errors import HarnessError, ProgramError


class Command(NamedTuple):
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]
    #: example command lines for the epilog of ``--help`` (tests/cli/test_help.py parses them)
    examples: tuple[str, ...]


SEED = "corpus/seeds/031-abortive-close-discards-backlog.wsa"
PROFILE_SEED = "corpus/seeds/050-cancel-status-documented.wsa"

COMMANDS = (
    Command(
        "run", "run programs and print, check or update their traces", run.add_run, run.cmd_run,
        (f"wsa-harness run --check {SEED}", f"wsa-harness run --explain {SEED}"),
    ),
    Command(
        "rules", "list the rules, optionally with corpus coverage", run.add_rules, run.cmd_rules,
        ("wsa-harness rules --coverage corpus/seeds",),
    ),
    Command(
        "diff", "run programs on two sides and report divergences", run.add_diff, run.cmd_diff,
        (f"wsa-harness diff --profiles documented,windows {PROFILE_SEED}",
         "wsa-harness diff --engines reference,core corpus/seeds/*.wsa"),
    ),
    Command(
        "fuzz", "run a differential fuzz campaign (atheris/libFuzzer)", fuzz.add_fuzz,
        fuzz.cmd_fuzz,
        ("wsa-harness fuzz --time 60 --engines core,reference --profiles any",
         "wsa-harness fuzz --engines reference --profiles documented,windows --out fuzz-out"),
    ),
    Command(
        "minimize", "minimize a divergent program, keeping its signature", fuzz.add_minimize,
        fuzz.cmd_minimize,
        (f"wsa-harness minimize --profiles documented,windows {PROFILE_SEED} -o small.wsa",),
    ),
    Command(
        "corpus", "check, update or export a corpus folder", fuzz.add_corpus, fuzz.cmd_corpus,
        ("wsa-harness corpus check corpus/regressions",
         "wsa-harness corpus export corpus/seeds --zip seeds.zip"),
    ),
    Command(
        "conformance", "run programs against a real implementation (wine, linux)",
        conformance.add_arguments, conformance.cmd_conformance,
        ("wsa-harness conformance --engine linux --check corpus/seeds",
         "wsa-harness conformance --import windows.trace --engine windows"),
    ),
    Command(
        "export", "write programs as standalone Winsock C tests for real Windows",
        export.add_arguments, export.cmd_export,
        ("wsa-harness export c conformance/programs/c03-close-wakes-blocked-recv.wsa -o c03.c",
         "wsa-harness export c --all exported"),
    ),
    Command(
        "bench", "bug-finding benchmark: planted mutants, time to find", bench.add_arguments,
        bench.cmd_bench,
        ("wsa-harness bench bugs --trials 1 --budget 5 --mutants 01 --tools harness",),
    ),
)  # fmt: skip
HANDLERS = {c.name: c.handler for c in COMMANDS}
EXIT_CODES = """exit status:
  0    nothing found: programs agree, checks pass, the campaign found nothing
  1    a finding or a failure: a divergence, a mismatch, an unreadable program
  2    a usage or input error: bad flags or arguments; nothing ran
  130  interrupted (Ctrl-C, SIGTERM); a campaign's findings so far are saved"""


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="wsa-harness",
        description="Winsock closesocket conformance harness.",
        epilog=EXIT_CODES,
        formatter_class=HelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"wsa-harness {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.arguments(
            sub.add_parser(
                command.name,
                help=command.help,
                description=command.help[0].upper() + command.help[1:] + ".",
                epilog=examples(*command.examples),
                formatter_class=HelpFormatter,
            )
        )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args: argparse.Namespace | None = None
    try:
        if argv is not None and any("\x00" in a for a in argv):
            # (a real command line cannot hold one; main() called with a list can)
            raise UsageError("wsa-harness: an argument holds a NUL character")
        args = build_parser().parse_args(argv)
        return HANDLERS[args.command](args)
    except UsageError as exc:
        text = str(exc)
        print(text if text.startswith("wsa-harness") else f"{subcommand(args)}: {text}",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    except ProgramError as exc:  # already FILE:LINE: message
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    except HarnessError as exc:
        print(f"{subcommand(args)}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print(f"{subcommand(args)}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAIL
    except OSError as exc:  # an output file or folder that cannot be written
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{subcommand(args)}: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
