"""The ``wsa-harness`` command (also ``python -m harness``): one command table.

Every error the harness reports on purpose is printed as one precise line
(``FILE:LINE: message`` for program text) with a non-zero exit status; no
traceback reaches the user.  Exit codes: 0 nothing wrong, 1 a failure or a
finding, 2 a usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

from harness import __version__
from harness.cli import bench, conformance, fuzz, run
from harness.cli.common import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_USAGE, Parser, UsageError
from harness.vocab.errors import HarnessError, ProgramError


class Command(NamedTuple):
    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace], int]


COMMANDS = (
    Command(
        "run", "run programs and print, check or update their traces", run.add_run, run.cmd_run
    ),
    Command(
        "rules", "list the rules, optionally with corpus coverage", run.add_rules, run.cmd_rules
    ),
    Command("diff", "run programs on two sides and report divergences", run.add_diff, run.cmd_diff),
    Command(
        "fuzz", "run a differential fuzz campaign (atheris/libFuzzer)", fuzz.add_fuzz, fuzz.cmd_fuzz
    ),
    Command(
        "minimize",
        "minimize a divergent program, keeping its signature",
        fuzz.add_minimize,
        fuzz.cmd_minimize,
    ),
    Command("corpus", "check, update or export a corpus folder", fuzz.add_corpus, fuzz.cmd_corpus),
    Command(
        "conformance",
        "run programs against a real implementation (wine, linux)",
        conformance.add_arguments,
        conformance.cmd_conformance,
    ),
    Command(
        "bench",
        "bug-finding benchmark: planted mutants, time to find",
        bench.add_arguments,
        bench.cmd_bench,
    ),
)
HANDLERS = {c.name: c.handler for c in COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="wsa-harness", description="Winsock closesocket conformance harness.")
    p.add_argument("--version", action="version", version=f"wsa-harness {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.arguments(sub.add_parser(command.name, help=command.help))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        if argv is not None and any("\x00" in a for a in argv):
            # (a real command line cannot hold one; main() called with a list can)
            raise UsageError("wsa-harness: an argument holds a NUL character")
        args = build_parser().parse_args(argv)
        return HANDLERS[args.command](args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except ProgramError as exc:  # already FILE:LINE: message
        print(exc, file=sys.stderr)
        return EXIT_FAIL
    except HarnessError as exc:
        print(f"wsa-harness: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("wsa-harness: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_FAIL
    except OSError as exc:  # an output file or folder that cannot be written
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"wsa-harness: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAIL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
