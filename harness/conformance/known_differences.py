"""Known differences: the lists in ``conformance/known/<engine>.txt``.

An engine's own profile (``linux``, ``wine``) is its measured behaviour; a
program that differs from it fails ``conformance --check``, unless the
difference is listed here because no switch of docs/profiles.md expresses it
(a model restriction, or a bug of the real implementation).

Format, one entry a line::

    PROGRAM LINE  reason text

``PROGRAM`` is the program's file name (``c08-close-wakes-blocked-send.wsa``),
``LINE`` the line of its first differing step under the engine's profile, and
the reason the rest of the line.  Lines whose first non-blank character is
``#`` are comments; blank lines are ignored.

A listed difference becomes the verdict ``known``.  An entry is *stale* when its
program was run and no longer differs at that line (it agrees, is skipped, or
differs elsewhere): like an expected failure that passes, that fails
``--check`` too, so the list never hides a change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from harness.conformance.compare import AGREE, DIFFER, ERROR, KNOWN, Verdict
from harness.vocab.errors import HarnessError


class KnownFileError(HarnessError):
    """A malformed known-differences file: ``FILE:LINE: message``."""

    def __init__(self, filename: str, line: int, message: str) -> None:
        super().__init__(filename, line, message)
        self.filename = filename
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = f"{self.filename}:{self.line}" if self.line else self.filename
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class KnownEntry:
    #: The program's file name (no folder).
    program: str
    #: The line of its first differing step.
    line: int
    reason: str
    #: ``FILE:LINE`` of the entry.
    source: str


def parse_known(text: str, filename: str) -> dict[str, KnownEntry]:
    """The entries of a known-differences file, by program file name."""
    entries: dict[str, KnownEntry] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue

        def fail(message: str, number: int = number) -> KnownFileError:
            return KnownFileError(filename, number, message)

        fields = line.split(None, 2)
        program = fields[0]
        if not program.endswith(".wsa") or "/" in program or "\\" in program:
            raise fail(f"{program!r} is not a program's file name (NAME.wsa, no folder)")
        if len(fields) < 2:
            raise fail(f"{program}: missing the line number and the reason")
        if not fields[1].isascii() or not fields[1].isdigit() or int(fields[1]) < 1:
            raise fail(f"{program}: the line must be a positive number, not {fields[1]!r}")
        if len(fields) < 3:
            raise fail(f"{program} {fields[1]}: missing the reason")
        if program in entries:
            raise fail(f"{program} is already listed at {entries[program].source}")
        entries[program] = KnownEntry(program, int(fields[1]), fields[2], f"{filename}:{number}")
    return entries


def load_known(path: Path) -> dict[str, KnownEntry]:
    """Read and parse a known-differences file (errors as ``FILE:LINE: message``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise KnownFileError(str(path), line, "not UTF-8 text") from None
    except OSError as exc:
        raise KnownFileError(str(path), 0, exc.strerror or str(exc)) from None
    return parse_known(text, str(path))


def apply_known(
    verdict: Verdict, entry: KnownEntry | None, profile: str
) -> tuple[Verdict, str | None]:
    """The verdict under the engine's own profile with the known list applied,
    and a message when the entry is stale."""
    if entry is None or verdict.kind == ERROR:
        return verdict, None
    if verdict.kind == DIFFER and verdict.line == entry.line:
        return replace(verdict, kind=KNOWN, note=entry.reason), None
    if verdict.kind == AGREE:
        now = f"agrees with `{profile}`"
    elif verdict.kind == DIFFER:
        now = f"differs from `{profile}` at line {verdict.line}, not {entry.line}"
    else:
        now = f"is {verdict.kind} under `{profile}` ({verdict.reason})"
    return verdict, (
        f"{entry.source}: stale known entry `{entry.program} {entry.line}`: the program now {now}"
    )
