"""What every ``wsa-harness`` subcommand shares: exit codes, the usage error,
argument types, loading program files and choosing the two sides of a diff.

The command modules import this one and nothing else of ``harness.cli``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from harness.vocab.errors import HarnessError
from harness.vocab.profiles import PROFILES

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130


class UsageError(HarnessError):
    """Bad command-line arguments."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`UsageError`, not an exit."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """``--help`` with each option's default, ``(default: X)``, unless the option
    has none (None, False, empty) or its help already says it; the epilog (the
    examples) is printed as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, "", []) or "default" in text:
            return text
        return super()._get_help_string(action)


def examples(*commands: str) -> str:
    """An epilog: the example command lines, one a line."""
    return (
        "example"
        + ("s" if len(commands) > 1 else "")
        + ":\n"
        + "\n".join(f"  {c}" for c in commands)
    )


def subcommand(args: argparse.Namespace | None) -> str:
    """``wsa-harness fuzz``, ``wsa-harness bench bugs``: who reports an error."""
    words = ["wsa-harness"]
    if args is not None:
        words += [w for w in (getattr(args, "command", None), getattr(args, "bench_command", None))
                  if w]  # fmt: skip
    return " ".join(words)


def profile_arg(value: str) -> str:
    if value not in PROFILES:
        raise argparse.ArgumentTypeError(
            f"unknown profile {value!r} (known: {', '.join(PROFILES)})"
        )
    return value


def list_arg(known: Sequence[str], what: str) -> Callable[[str], list[str]]:
    """One or two comma-separated names out of ``known``."""

    def parse(value: str) -> list[str]:
        items = [v.strip() for v in value.split(",") if v.strip()]
        bad = [v for v in items if v not in known]
        if bad or not 1 <= len(items) <= 2:
            raise argparse.ArgumentTypeError(
                f"expected one or two {what} separated by a comma from: {', '.join(known)}"
            )
        return items

    return parse


def positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {n}")
    return n


def positive_float(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return x


def load_program(path: str) -> object:
    """Parse a file; file-system problems become HarnessErrors."""
    from harness.api import read_program

    return read_program(path)


def load_all(files: Sequence[str]) -> tuple[list[object], int]:
    programs, failures = [], 0
    for f in files:
        try:
            programs.append(load_program(f))
        except HarnessError as exc:
            print(exc, file=sys.stderr)
            failures += 1
    return programs, failures


def sides_from_args(
    engines: list[str] | None, profiles: list[str] | None, header_profile: str
) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two (engine, profile) sides from ``--engines`` and ``--profiles``."""
    engines = engines or (
        ["reference"] if profiles and len(profiles) == 2 else ["reference", "core"]
    )
    profiles = profiles or [header_profile]
    if len(engines) == 1 and len(profiles) == 1:
        raise UsageError("a diff needs two sides: give two engines, two profiles, or both")
    e = engines * 2 if len(engines) == 1 else engines
    p = profiles * 2 if len(profiles) == 1 else profiles
    return (e[0], p[0]), (e[1], p[1])


#: The real engines a diff, minimize or fuzz side may be (harness.conformance)
REAL_ENGINES = ("linux", "wine", "lwip")


def real_side(engines: list[str] | None, profiles: list[str] | None) -> tuple[str, str] | None:
    """(real engine, the model's profile) when ``--engines`` names a real engine.

    A real engine is compared with the reference model, under one profile: the
    engine's own unless ``--profiles`` names another."""
    real = [e for e in engines or () if e in REAL_ENGINES]
    if not real:
        return None
    others = [e for e in engines or () if e not in REAL_ENGINES]
    if len(real) > 1 or any(e != "reference" for e in others):
        raise UsageError(
            f"--engines {','.join(engines or ())}: a real engine is compared with the "
            f"reference model: give --engines {real[0]},reference"
        )
    if profiles and (len(profiles) > 1 or profiles[0] not in PROFILES):
        raise UsageError(
            f"--profiles {','.join(profiles)}: {real[0]} is compared with the model under "
            f"one named profile (default: its own, {real[0]})"
        )
    return real[0], profiles[0] if profiles else real[0]
