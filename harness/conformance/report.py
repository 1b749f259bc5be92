"""Conformance reports: every program of some corpora against one external
engine, under several profiles; printed as text or as a markdown table.

The engine's own profile (``measured``) is the one that can fail: a *differ*
there, unless the known-differences list names it, an *error* anywhere, and
a stale known entry (:mod:`harness.conformance.known_differences`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.conformance.compare import (
    AGREE,
    DIFFER,
    ERROR,
    KNOWN,
    PARTIAL,
    SKIPPED,
    VERDICTS,
    Verdict,
    compare_program,
)
from harness.conformance.engine import ExternalEngine
from harness.conformance.known_differences import KnownEntry, apply_known, stale_message
from harness.lang.program import Program
from harness.vocab.errors import HarnessError
from harness.vocab.profiles import Profile


@dataclass(frozen=True)
class Row:
    name: str
    verdicts: dict[str, Verdict]


@dataclass(frozen=True)
class Report:
    engine: str
    profiles: tuple[str, ...]
    rows: tuple[Row, ...]
    seconds: float
    #: The profile measured for this engine, if the model has one.
    measured: str | None = None
    #: The known-differences file applied to the measured profile, if any.
    known_file: str | None = None
    #: Known entries that no longer match their program (each fails the check).
    stale: tuple[str, ...] = ()
    #: Known entries whose program was not run (not a failure).
    unused: tuple[str, ...] = ()
    #: Threads the engine left blocked in calls that never returned (all programs).
    leaked_threads: int = 0

    def blocked_at_end(self) -> int:
        """Programs that ended with a thread still blocked in a call."""
        return sum(1 for r in self.rows if any(v.blocked for v in r.verdicts.values()))

    def counts(self, profile: str) -> dict[str, int]:
        out = dict.fromkeys(VERDICTS, 0)
        for r in self.rows:
            out[r.verdicts[profile].kind] += 1
        return out

    def failures(self) -> list[str]:
        """Engine or model errors, differences from the engine's measured profile
        that the known list does not name, and stale known entries."""
        bad = []
        for r in self.rows:
            for p, v in r.verdicts.items():
                if v.kind == ERROR or (p == self.measured and v.kind == DIFFER):
                    bad.append(f"{r.name} [{p}]: {v.summary()}")
        return bad + list(self.stale)


def judge_row(
    name: str,
    verdicts: dict[str, Verdict],
    measured: str | None,
    known: dict[str, KnownEntry],
) -> tuple[Row, KnownEntry | None]:
    """A program's row with the known list applied to the measured profile's
    verdict, and the entry that matched (if one did)."""
    if measured is None or measured not in verdicts:
        return Row(name, verdicts), None
    v, entry = apply_known(verdicts[measured], known)
    return Row(name, {**verdicts, measured: v}), entry


def stale_entries(
    rows: Iterable[Row], measured: str | None, known: dict[str, KnownEntry]
) -> tuple[list[str], list[str]]:
    """(stale, unused): entries a seen program run no longer shows (failures),
    and entries none of whose seen programs was run (notes)."""
    by_file = {Path(r.name).name: r for r in rows}
    stale, unused = [], []
    for entry in known.values():
        ran = [p for p in entry.seen if p in by_file]
        if not ran:
            unused.append(f"{entry.source}: known entry [{entry.name}]: no seen program was run")
            continue
        for program in ran:
            v = by_file[program].verdicts.get(measured or "")
            if v is None:
                continue
            if v.kind == KNOWN and v.note.startswith(f"[{entry.name}]"):
                continue
            if entry.intermittent and v.kind in (AGREE, PARTIAL):
                continue
            stale.append(stale_message(entry, program, v, measured or ""))
    return stale, unused


def collect(paths: Iterable[Path]) -> list[Path]:
    """The .wsa files named, or found (sorted) in the folders named."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.wsa"))
            if not found:
                raise HarnessError(f"{p}: no .wsa files")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise HarnessError(f"{p}: no such file or directory")
    return files


def run_report(
    engine: ExternalEngine,
    programs: list[Program],
    profiles: list[Profile],
    measured: str | None = None,
    progress: Callable[[str], None] | None = None,
    known: dict[str, KnownEntry] | None = None,
    known_file: str | None = None,
    timeout: float | None = None,
) -> Report:
    start = time.monotonic()
    known = known or {}
    rows = []
    for program in programs:
        verdicts = compare_program(program, engine, profiles, timeout)
        row, _ = judge_row(program.filename, verdicts, measured, known)
        rows.append(row)
        if progress:
            progress(_text_line(row, [p.name for p in profiles]))
    stale, unused = stale_entries(rows, measured, known)
    leaked = getattr(engine, "leaked_threads", None)
    return Report(
        engine.name,
        tuple(p.name for p in profiles),
        tuple(rows),
        time.monotonic() - start,
        measured,
        known_file,
        tuple(stale),
        tuple(unused),
        leaked() if callable(leaked) else 0,
    )


def _cell(v: Verdict) -> str:
    if v.kind in (DIFFER, KNOWN):
        return f"{v.kind} {v.reason.split(':', 1)[0]}"
    if v.kind == PARTIAL:
        return f"agree to line {v.upto}"
    return v.kind


def _text_line(row: Row, profiles: list[str]) -> str:
    cells = "  ".join(f"{p}={_cell(row.verdicts[p])}" for p in profiles)
    return f"{row.name}: {cells}"


def _count_line(report: Report, profile: str) -> str:
    c = report.counts(profile)
    return (
        f"{c[AGREE]} agree, {c[PARTIAL]} agree up to a line, {c[DIFFER]} differ, "
        f"{c[KNOWN]} known, {c[SKIPPED]} skipped, {c[ERROR]} error(s)"
    )


@dataclass
class _Difference:
    head: str
    real: str
    models: list[str]
    notes: list[str]


def _differences(report: Report, row: Row) -> dict[str, _Difference]:
    """A row's first differing steps, by ``line N: `step```, with each profile's
    model line, the engine's line and the known-list notes."""
    by_step: dict[str, _Difference] = {}
    for p in report.profiles:
        v = row.verdicts[p]
        if v.kind in (DIFFER, KNOWN) and len(v.detail) == 3:
            where = v.reason.rsplit(": ", 1)[0]
            d = by_step.setdefault(where, _Difference(v.detail[0], v.detail[2], [], []))
            d.models.append(v.detail[1])
            if v.kind == KNOWN:
                d.notes.append(f"known ({p}): {v.note}")
    return by_step


def render_text(report: Report) -> str:
    lines = [_text_line(r, list(report.profiles)) for r in report.rows]
    lines.append("")
    for r in report.rows:
        for d in _differences(report, r).values():
            lines += [d.head, *d.models, d.real, *(f"  {n}" for n in d.notes)]
    lines.append("")
    for p in report.profiles:
        own = " (the engine's own profile)" if p == report.measured else ""
        lines.append(f"{report.engine} vs {p}{own}: {_count_line(report, p)}")
    if report.known_file:
        lines.append(f"known differences: {report.known_file}")
    blocked = report.blocked_at_end()
    lines.append(
        f"threads left blocked: {blocked} program(s) ended with a thread blocked in a call; "
        f"{report.leaked_threads} thread(s) never returned"
    )
    lines += [*report.unused, *report.stale]
    lines.append(f"{len(report.rows)} program(s) in {report.seconds:.1f} s")
    return "\n".join(lines) + "\n"


def render_markdown(report: Report, command: str) -> str:
    """The table of docs/conformance.md: one row per program, one column per profile."""
    profiles = list(report.profiles)
    out = [
        f"Produced by `{command}` ({len(report.rows)} programs, {report.seconds:.1f} s).",
        "",
        "| program | " + " | ".join(profiles) + " |",
        "|---|" + "---|" * len(profiles),
    ]
    for r in report.rows:
        cells = [_cell(r.verdicts[p]) for p in profiles]
        out.append(f"| `{Path(r.name).name}` | " + " | ".join(cells) + " |")
    out.append("")
    for p in profiles:
        out.append(f"- vs `{p}`: {_count_line(report, p)}")
    if report.known_file:
        out.append(f"- known differences: `{report.known_file}`")
    for s in report.stale:
        out.append(f"- **{s}**")
    out += ["", "First differing steps:", ""]
    for r in report.rows:
        for where, d in _differences(report, r).items():
            texts = [m.strip() for m in d.models] + [d.real.strip()]
            tail = "".join(f" ({n})" for n in d.notes)
            out.append(f"- `{Path(r.name).name}` {where}: " + "; ".join(texts) + tail)
    out += ["", "Compared up to a line, skipped or failed (first reason per program):", ""]
    for r in report.rows:
        for p in profiles:
            v = r.verdicts[p]
            if v.kind == PARTIAL:
                under = f" (under `{p}`)" if p != profiles[0] else ""
                out.append(f"- `{Path(r.name).name}`{under}: {v.summary()}")
                break
            if v.kind in (SKIPPED, ERROR):
                under = f" (under `{p}`)" if p != profiles[0] else ""
                out.append(f"- `{Path(r.name).name}`: {v.kind}{under}: {v.reason}")
                break
    return "\n".join(out) + "\n"


def replace_section(text: str, engine: str, body: str) -> str:
    """Replace what stands between the engine's markers in a document."""
    begin, end = f"<!-- conformance:{engine} -->", f"<!-- /conformance:{engine} -->"
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        raise HarnessError(f"the document has no {begin} ... {end} section")
    return text[: i + len(begin)] + "\n" + body + text[j:]
