"""Conformance reports: every program of some corpora against one external
engine, under several profiles; printed as text or as a markdown table."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.external import ExternalEngine
from harness.external.compare import AGREE, DIFFER, ERROR, SKIPPED, Verdict, compare_program
from harness.profiles import Profile
from harness.program import Program


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

    def counts(self, profile: str) -> dict[str, int]:
        out = {AGREE: 0, DIFFER: 0, SKIPPED: 0, ERROR: 0}
        for r in self.rows:
            out[r.verdicts[profile].kind] += 1
        return out

    def failures(self) -> list[str]:
        """Engine errors, and disagreements with the engine's measured profile."""
        bad = []
        for r in self.rows:
            for p, v in r.verdicts.items():
                if v.kind == ERROR or (p == self.measured and v.kind == DIFFER):
                    bad.append(f"{r.name} [{p}]: {v.summary()}")
        return bad


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
) -> Report:
    start = time.monotonic()
    rows = []
    for program in programs:
        verdicts = compare_program(program, engine, profiles)
        rows.append(Row(program.filename, verdicts))
        if progress:
            progress(_text_line(rows[-1], [p.name for p in profiles]))
    return Report(
        engine.name,
        tuple(p.name for p in profiles),
        tuple(rows),
        time.monotonic() - start,
        measured,
    )


def _cell(v: Verdict) -> str:
    if v.kind == DIFFER:
        return f"differ {v.reason.split(':', 1)[0]}"
    return v.kind


def _text_line(row: Row, profiles: list[str]) -> str:
    cells = "  ".join(f"{p}={_cell(row.verdicts[p])}" for p in profiles)
    return f"{row.name}: {cells}"


def render_text(report: Report) -> str:
    lines = [_text_line(r, list(report.profiles)) for r in report.rows]
    lines.append("")
    for r in report.rows:
        by_step: dict[str, list[str]] = {}
        for p in report.profiles:
            v = r.verdicts[p]
            if v.kind == DIFFER and len(v.detail) == 3:
                by_step.setdefault(v.detail[0], [v.detail[2]]).insert(-1, v.detail[1])
        for head, body in by_step.items():
            lines += [head, *body]
    lines.append("")
    for p in report.profiles:
        c = report.counts(p)
        lines.append(
            f"{report.engine} vs {p}: {c[AGREE]} agree, {c[DIFFER]} differ, "
            f"{c[SKIPPED]} skipped, {c[ERROR]} error(s)"
        )
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
        c = report.counts(p)
        out.append(
            f"- vs `{p}`: {c[AGREE]} agree, {c[DIFFER]} differ, {c[SKIPPED]} skipped, "
            f"{c[ERROR]} error(s)"
        )
    out += ["", "First differing steps:", ""]
    for r in report.rows:
        by_step: dict[str, list[str]] = {}
        for p in profiles:
            v = r.verdicts[p]
            if v.kind == DIFFER and len(v.detail) == 3:
                where = v.reason.rsplit(": ", 1)[0]
                by_step.setdefault(where, [v.detail[2].strip()]).insert(-1, v.detail[1].strip())
        for where, texts in by_step.items():
            out.append(f"- `{Path(r.name).name}` {where}: " + "; ".join(texts))
    out += ["", "Skipped (first reason per program):", ""]
    for r in report.rows:
        v = r.verdicts[profiles[0]]
        if v.kind in (SKIPPED, ERROR):
            out.append(f"- `{Path(r.name).name}`: {v.reason}")
    return "\n".join(out) + "\n"


def replace_section(text: str, engine: str, body: str) -> str:
    """Replace what stands between the engine's markers in a document."""
    begin, end = f"<!-- conformance:{engine} -->", f"<!-- /conformance:{engine} -->"
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        raise HarnessError(f"the document has no {begin} ... {end} section")
    return text[: i + len(begin)] + "\n" + body + text[j:]
