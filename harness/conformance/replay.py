"""Traces of exported programs, read back as a conformance engine.

A program exported by ``wsa-harness export c`` (:mod:`harness.conformance.export_c`)
prints, when it runs, one trace record::

    wsa-harness trace 1
    program c03-close-wakes-blocked-recv.wsa
    source <each line of the program's text>
    step 3 0                     the step at program line 3 showed `0`
    step 6 blocked
    step 10 -                    nothing to compare (a call the model rejects)
    completions t1 recv -> SOCKET_ERROR WSAEINTR     (after its step line; "; "-joined)
    messages FD_READ s1 0; FD_CLOSE s1 0             (WSAAsyncSelect messages posted, in order)
    stopped 7 REASON | failed 7 REASON               (the run stopped at step index 7)
    end

A trace file holds any number of records (``run-all.bat`` appends them).
:class:`ReplayEngine` is an external engine whose runs are those records, so
``wsa-harness conformance --import TRACE --engine windows`` compares them with
the model exactly as a live engine's runs are compared.  A record cut short
(no ``end``: the program crashed or was killed) is an engine failure at the
first missing step.  Anything else malformed is ``TRACE:LINE: message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.conformance.engine import Capabilities, FixedEngine, Observation, RealRun
from harness.lang.program import Program
from harness.vocab.errors import HarnessError

MAGIC = "wsa-harness trace 1"


class TraceError(HarnessError):
    """A trace file that cannot be read back."""


@dataclass
class _Record:
    start: int
    name: str = ""
    source: list[str] = field(default_factory=list)
    #: (trace line, program line, result, completions, messages)
    steps: list[tuple[int, int, str | None, list[str], list[str]]] = field(default_factory=list)
    stopped: tuple[int, str] | None = None
    failed: bool = False
    ended: bool = False


def _records(path: Path) -> list[_Record]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(f"{path}: no such trace file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read the trace: {exc}") from None
    records: list[_Record] = []
    cur: _Record | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        where = f"{path}:{number}"
        if line == MAGIC:
            cur = _Record(number)
            records.append(cur)
            continue
        if not line.strip():
            continue
        if cur is None or cur.ended:
            raise TraceError(f"{where}: expected `{MAGIC}` to start a record, got {line[:60]!r}")
        word, _, rest = line.partition(" ")
        if word == "program" and not cur.name and rest:
            cur.name = rest
        elif word == "source":
            cur.source.append(rest)
        elif word == "step" and not cur.stopped:
            head, _, shown = rest.partition(" ")
            if not head.isdigit() or not shown:
                raise TraceError(f"{where}: a step line is `step LINE RESULT`, got {line!r}")
            cur.steps.append((number, int(head), None if shown == "-" else shown, [], []))
        elif word == "completions" and cur.steps and rest:
            cur.steps[-1][3].extend(rest.split("; "))
        elif word == "messages" and cur.steps and rest:
            cur.steps[-1][4].extend(rest.split("; "))
        elif word in ("stopped", "failed") and not cur.stopped:
            index, _, reason = rest.partition(" ")
            if not index.isdigit() or not reason:
                raise TraceError(f"{where}: expected `{word} INDEX REASON`, got {line!r}")
            cur.stopped, cur.failed = (int(index), reason), word == "failed"
        elif word == "end" and not rest:
            cur.ended = True
        else:
            raise TraceError(f"{where}: unexpected trace line {line[:80]!r}")
    if not records:
        raise TraceError(f"{path}: no trace records (`{MAGIC}`)")
    return records


def load_traces(paths: list[Path]) -> list[tuple[Program, RealRun]]:
    """Every record of the trace files: its program (parsed from the record's
    source) and its run."""
    from harness.lang.parser import parse

    out: list[tuple[Program, RealRun]] = []
    seen: dict[str, str] = {}
    for path in paths:
        for rec in _records(path):
            where = f"{path}:{rec.start}"
            if not rec.name or not rec.source:
                raise TraceError(f"{where}: the record has no `program` or `source` lines")
            if rec.name in seen:
                raise TraceError(
                    f"{where}: program {rec.name} is already traced at {seen[rec.name]}"
                )
            seen[rec.name] = where
            try:
                program = parse("\n".join(rec.source) + "\n", rec.name)
            except HarnessError as exc:
                raise TraceError(f"{where}: the record's program does not parse: {exc}") from None
            observations = []
            for i, (number, line, result, comps, msgs) in enumerate(rec.steps):
                if i >= len(program.steps) or program.steps[i].line != line:
                    expected = program.steps[i].line if i < len(program.steps) else "none"
                    raise TraceError(
                        f"{path}:{number}: step {i + 1} is at line {line} of the trace, "
                        f"but at line {expected} of its program"
                    )
                observations.append(Observation(result, tuple(sorted(comps)), tuple(msgs)))
            stopped, failed = rec.stopped, rec.failed
            if not rec.ended and stopped is None:
                n = len(observations)
                stopped, failed = (n, "the trace ends without `end` (the program crashed?)"), True
            out.append((program, RealRun(tuple(observations), stopped, failed)))
    return out


class ReplayEngine(FixedEngine):
    """An external engine whose runs are recorded traces."""

    def __init__(self, name: str, capabilities: Capabilities, runs: dict[str, RealRun]) -> None:
        self.name = name
        self.capabilities = capabilities
        self._runs = runs

    def observe(self, program: Program) -> RealRun:
        return self._runs[program.filename]
