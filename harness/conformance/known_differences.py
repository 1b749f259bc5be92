"""Known differences: the lists in ``conformance/known/<engine>.txt``.

An engine's own profile (``linux``, ``wine``) is its measured behaviour; a
program that differs from it fails ``conformance --check``, unless the
difference is listed here because no switch of docs/profiles.md expresses it.

An entry is a condition, not a program line: it matches a difference
wherever it holds, in any program (decision D58)::

    [recv-after-twin-close]
    engine: wine
    call: recv
    field: completions
    when: twin_closed blocked_recv
    reason: engine bug: a recv blocked on a duplicated socket fails ...
    seen: 048-cancel-scope-documented.wsa 049-cancel-scope-windows.wsa

- ``engine``: the engine it is about (the file's engine);
- ``call``: the call whose outcome differs, or several separated by commas:
  for ``field: result`` and ``field: messages`` the step's own call
  (``recv``, ``peer_send``, ``asyncselect``), for ``field: completions`` the
  call that completed (or failed to);
- ``field``: ``result``, ``completions`` or ``messages``, or several separated
  by commas: an outcome that the engine shows in one field in some runs and in
  another in others (a call that fails at once, or blocks and never
  completes), where ``when`` holds for both;
- ``when``: the condition on the model's state just before the step, in the
  words of :mod:`harness.conformance.conditions` (``!fact`` negates; every
  term must hold; ``|`` separates alternatives; an empty ``when`` always holds);
- ``reason``: ``engine bug: ...``, ``model restriction: ...`` or
  ``open question: ...``;
- ``seen``: the programs that show it (at least one);
- ``intermittent: yes`` (optional): the engine shows it in some runs only (a
  race inside the engine), so a seen program that agrees is no sign of a fix.

A matching difference becomes the verdict ``known``.  An entry is **stale**
when one of its ``seen`` programs was run and is not ``known`` by it: it
agrees, differs elsewhere or otherwise, or the comparison no longer reaches
the step (for an intermittent entry: anything but agreeing).  A stale entry
fails ``--check``, so the list never hides a change.
Lines starting with ``#`` are comments; blank lines are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from harness.conformance.compare import AGREE, DIFFER, ERROR, KNOWN, Verdict
from harness.conformance.conditions import ConditionError, Terms, holds, parse_condition
from harness.vocab.errors import FileLineError

FIELDS = ("result", "completions", "messages")
REASONS = ("engine bug:", "model restriction:", "open question:")
_KEYS = ("engine", "call", "field", "when", "reason", "seen", "intermittent")


class KnownFileError(FileLineError):
    """A malformed known-differences file: ``FILE:LINE: message``."""


@dataclass(frozen=True)
class KnownEntry:
    name: str
    engine: str
    calls: frozenset[str]
    #: the fields of the outcome that differs (one, or several: see above)
    fields: frozenset[str]
    #: the condition as written, and parsed
    when: str
    terms: tuple[Terms, ...]
    reason: str
    #: the programs' file names (no folder) that show it
    seen: tuple[str, ...]
    #: ``FILE:LINE`` of the entry's ``[name]`` line
    source: str
    #: the engine shows it in some runs only: a seen program that agrees does
    #: not make the entry stale (one that differs otherwise still does)
    intermittent: bool = False

    def matches(self, verdict: Verdict) -> bool:
        """Whether this entry explains the verdict's first difference."""
        if verdict.kind not in (DIFFER, KNOWN) or verdict.field not in self.fields:
            return False
        calls = set(verdict.call.split(",")) if verdict.call else set()
        return bool(calls) and calls <= self.calls and holds(self.terms, verdict.facts)

    def describe(self) -> str:
        when = f" when {self.when}" if self.when else ""
        return f"{self.engine} {','.join(sorted(self.calls))} {','.join(sorted(self.fields))}{when}"


def parse_known(text: str, filename: str, engine: str | None = None) -> dict[str, KnownEntry]:
    """The entries of a known-differences file, by name; ``engine``: the only
    engine its entries may name (None: any)."""
    entries: dict[str, KnownEntry] = {}
    blocks: list[tuple[str, int, dict[str, tuple[int, str]]]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3 or " " in line:
                raise KnownFileError(filename, number, f"{line!r}: an entry starts with [NAME]")
            blocks.append((line[1:-1], number, {}))
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not blocks:
            raise KnownFileError(filename, number, f"{line!r} before the first [NAME]")
        if not sep or key not in _KEYS:
            raise KnownFileError(
                filename, number, f"{line!r}: expected KEY: VALUE, KEY one of {', '.join(_KEYS)}"
            )
        fields = blocks[-1][2]
        if key in fields:
            raise KnownFileError(filename, number, f"{key} given twice")
        fields[key] = (number, value.strip())
    for name, number, fields in blocks:
        entry = _entry(name, number, fields, filename, engine)
        if name in entries:
            raise KnownFileError(
                filename, number, f"{name} is already an entry at {entries[name].source}"
            )
        entries[name] = entry
    return entries


def _entry(
    name: str,
    number: int,
    fields: dict[str, tuple[int, str]],
    filename: str,
    engine: str | None,
) -> KnownEntry:
    for key in _KEYS:
        if key not in fields and key not in ("when", "intermittent"):
            raise KnownFileError(filename, number, f"[{name}] has no {key}:")

    def value(key: str) -> tuple[int, str]:
        return fields.get(key, (number, ""))

    line, eng = value("engine")
    if engine is not None and eng != engine:
        raise KnownFileError(filename, line, f"[{name}] is about {eng!r}, this file is {engine}'s")
    line, field = value("field")
    kinds = frozenset(f.strip() for f in field.split(","))
    if not kinds <= set(FIELDS):
        raise KnownFileError(filename, line, f"field must be one of {', '.join(FIELDS)}")
    line, calls = value("call")
    names = frozenset(c.strip() for c in calls.split(",") if c.strip())
    if not names:
        raise KnownFileError(filename, line, f"[{name}] names no call")
    line, when = value("when")
    try:
        terms = parse_condition(when)
    except ConditionError as exc:
        raise KnownFileError(filename, line, str(exc)) from None
    line, reason = value("reason")
    if not reason.startswith(REASONS):
        raise KnownFileError(
            filename, line, f"the reason must start with {', '.join(map(repr, REASONS))}"
        )
    line, seen = value("seen")
    programs = tuple(seen.split())
    bad = [p for p in programs if not p.endswith(".wsa") or "/" in p or "\\" in p]
    if not programs or bad:
        raise KnownFileError(filename, line, "seen: the programs' file names (NAME.wsa, no folder)")
    line, flaky = value("intermittent")
    if flaky not in ("", "yes", "no"):
        raise KnownFileError(filename, line, "intermittent: yes or no")
    return KnownEntry(
        name, eng, names, kinds, when, terms, reason, programs, f"{filename}:{number}",
        flaky == "yes",
    )  # fmt: skip


def load_known(path: Path, engine: str | None = None) -> dict[str, KnownEntry]:
    """Read and parse a known-differences file (errors as ``FILE:LINE: message``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise KnownFileError(str(path), line, "not UTF-8 text") from None
    except OSError as exc:
        raise KnownFileError(str(path), 0, exc.strerror or str(exc)) from None
    return parse_known(text, str(path), engine)


def apply_known(
    verdict: Verdict, entries: dict[str, KnownEntry] | list[KnownEntry]
) -> tuple[Verdict, KnownEntry | None]:
    """The verdict with the known list applied, and the entry that matched."""
    if verdict.kind != DIFFER:
        return verdict, None
    for entry in entries.values() if isinstance(entries, dict) else entries:
        if entry.matches(verdict):
            return replace(verdict, kind=KNOWN, note=f"[{entry.name}] {entry.reason}"), entry
    return verdict, None


def stale_message(entry: KnownEntry, program: str, verdict: Verdict, profile: str) -> str:
    """Why a seen program no longer shows the entry."""
    if verdict.kind == AGREE:
        now = f"agrees with `{profile}`"
    elif verdict.kind in (DIFFER, KNOWN):
        now = f"differs from `{profile}` at line {verdict.line} in {verdict.field or 'result'}"
        now += f" of {verdict.call or '?'}" + (
            f", where `{entry.when}` does not hold" if verdict.field in entry.fields else ""
        )
        if verdict.kind == KNOWN:
            now += f" (known as {verdict.note.split(']')[0]}])"
    elif verdict.kind == ERROR:
        now = f"fails ({verdict.reason})"
    else:
        now = f"is {verdict.kind} under `{profile}` ({verdict.summary()})"
    return f"{entry.source}: stale known entry [{entry.name}]: {program} now {now}"
