"""``wsa-harness export c``: a program as one self-contained Winsock C program.

The exported program runs the steps on real sockets of the machine it runs on
(real Windows, or Wine), as the Wine engine's session does
(:mod:`harness.conformance.session`): worker threads t0 and t1 make the calls,
a call still running after 300 ms is ``blocked``, the peer is a second process
(the program itself run with ``--peer``) holding a listener on 127.0.0.1 and
the accepted sockets, so the program's ``WSACleanup`` never reaches it.

It checks every step that has a ``->`` expectation, as far as the comparison
of a real stack with the model goes (the cut of :mod:`harness.conformance.model`
under the program's own profile): the result and the completions of blocked
calls, reduced to what a real stack shows (byte counts by class, ``ok`` for a
descriptor).  A mismatch prints ``FILE:LINE: ...`` on stderr and the exit
status is 1 (2 if the peer process failed).  On stdout it prints its trace,
which ``wsa-harness conformance --import TRACE --engine windows`` reads back
(:mod:`harness.conformance.replay`).

A program the Wine engine cannot run is refused with the first step it cannot
express (``FILE:LINE: cannot export ...``).  The runtime is
``harness/conformance/export_runtime.c.in``; this module fills in its ``/*@...@*/``
placeholders: the opcodes, the error names, the step table.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from harness.conformance.engine import Capabilities
from harness.conformance.errnomap import EXTRA_NAMES
from harness.conformance.model import ModelRun, model_run
from harness.conformance.session import first_unsupported
from harness.conformance.wine import WINE_CAPABILITIES
from harness.lang.program import Invalid, Program, Var, variable_slots
from harness.lang.render import format_step
from harness.vocab.constants import ERROR_NAMES, Mode, Op
from harness.vocab.errors import HarnessError, ProgramError
from harness.vocab.profiles import DOCUMENTED, WINDOWS, WINE, Profile

RUNTIME = Path(__file__).with_name("export_runtime.c.in")
#: A Windows machine runs what Wine's ws2_32 runs: the same capabilities.
WINDOWS_CAPABILITIES = WINE_CAPABILITIES
#: The profiles a Windows trace is compared with; the run goes as far as the
#: furthest of their cuts (and of the program's own profile's).
TRACE_PROFILES: tuple[Profile, ...] = (DOCUMENTED, WINDOWS, WINE)
MINGW = "x86_64-w64-mingw32-gcc"


class ExportError(ProgramError):
    """A program that the C export cannot express: ``FILE:LINE: cannot export ...``."""


def c_string(text: str) -> str:
    """A C string literal of ``text`` (UTF-8, octal escapes for the rest)."""
    out = ['"']
    for b in text.encode():
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")
    out.append('"')
    return "".join(out)


def _c_or_null(text: str | None) -> str:
    return "NULL" if text is None else c_string(text)


@dataclass(frozen=True)
class Exported:
    """An exported program: its C source and what the export decided."""

    source: str
    #: How many steps the program runs (up to the furthest cut).
    steps_run: int
    #: How many of them are checked against an expectation.
    checked: int


def _cut(run: ModelRun, n: int) -> int:
    return run.cut[0] if run.cut else n


def export_program(
    program: Program,
    source_text: str,
    caps: Capabilities | None = None,
    prefix: bool = False,
) -> Exported:
    """The C program for ``program`` (its file's text is ``source_text``).

    A step the export cannot express refuses the program, naming the step;
    with ``prefix`` the exported program runs the steps before it instead (a
    live engine's comparison ends there too), unless it is the first step."""
    from harness.conformance.compare import expectations
    from harness.oracle.run import check

    caps = caps or WINDOWS_CAPABILITIES
    n = len(program.steps)
    stop = n
    bad = first_unsupported(program, caps)
    if bad is not None:
        index, step, reason = bad
        extra = reason.split(f" at line {step.line}", 1)[-1]
        if not prefix or index == 0:
            raise ExportError(
                program.filename,
                step.line,
                f"cannot export step `{format_step(step)}`{extra} "
                "(the export runs what the Wine engine runs"
                + ("; --prefix exports the steps before it)" if index else ")"),
            )
        stop = index
    try:
        own = model_run(program, program.profile, caps)
        runs = [model_run(program, p, caps) for p in TRACE_PROFILES]
    except HarnessError as exc:
        line = program.steps[0].line if program.steps else 1
        raise ExportError(
            program.filename, line, f"cannot export: the model fails: {exc}"
        ) from None
    wrong = check(program, own.trace)
    if wrong:
        first = wrong[0]
        raise ExportError(
            program.filename,
            first.step.line,
            "cannot export: the step's expectation is not what the model gives under "
            f"@profile {program.profile.name} "
            f"(`wsa-harness run --check {shlex.quote(program.filename)}` shows the difference)",
        )
    limit = min(stop, max(_cut(r, n) for r in [own, *runs]))
    own_cut = min(stop, _cut(own, n))
    hints = expectations(runs)
    slots = variable_slots(program.steps)
    names = sorted(slots, key=slots.__getitem__)
    rows = []
    checked = 0
    for i, step in enumerate(program.steps[:limit]):
        obs, hint = own.observations[i], hints[i]
        expect = expect_comps = expect_msgs = None
        if step.expect is not None and i < own_cut:
            expect = obs.result
            expect_comps = "; ".join(obs.completions)
            expect_msgs = "; ".join(obs.messages)
            checked += 1
        target = "NO_VAR"
        if isinstance(step.target, Var):
            target = str(slots[step.target.name])
        elif isinstance(step.target, Invalid):
            target = "INVALID_VAR"
        bind = str(slots[step.bind]) if step.bind is not None else "NO_VAR"
        args = [*step.args, 0, 0, 0][:3]
        text = format_step(step)
        want = "-> " + (step.expect.result if step.expect else "(no expectation)")
        comment = f"line {step.line}: {text}  {want}".replace("*/", "* /")
        rows.append(
            f"    /* {comment} */\n"
            f"    {{{step.line}, OP_{step.op.name}, {-1 if step.thread is None else step.thread}, "
            f"{target}, {bind}, {{{args[0]}, {args[1]}, {args[2]}}}, {c_string(text)},\n"
            f"     {_c_or_null(expect)}, {_c_or_null(expect_comps)}, {_c_or_null(expect_msgs)},\n"
            f"     {_c_or_null(hint.result)}, {len(hint.completions)}, {len(hint.messages)}}},"
        )
    program_part = "\n".join(
        [
            f"#define PROGRAM_FILE {c_string(Path(program.filename).name)}",
            f"#define NSTEPS {len(rows)}",
            f"#define NVARS {len(names)}",
            "/* the Wine engine's times (harness/conformance/wine.py), in ms */",
            f"#define BLOCK_WAIT_MS {round(caps.block_wait * 1000)}",
            f"#define BLOCK_CONFIRM_MS {round(caps.block_confirm * 1000)}",
            f"#define SETTLE_MS {round(caps.settle * 1000)}",
            f"#define MAX_SLEEP_MS {caps.max_sleep_ms}",
            "static const char *const var_names[NVARS + 1] = {"
            + "".join(f"{c_string(v)}, " for v in names)
            + "NULL};",
            "/* the program's text, printed in the trace */",
            "static const char *const program_source[] = {",
            *(f"    {c_string(line)}," for line in source_text.splitlines()),
            "    NULL};",
            "static const step_t steps[NSTEPS + 1] = {\n" + "\n".join(rows) + "\n    {0}};",
        ]
    )
    header = _header(program, limit, checked, own_cut, stop)
    source = (
        RUNTIME.read_text()
        .replace("/*@HEADER@*/", header)
        .replace("/*@OPS@*/", _ops_part())
        .replace("/*@PROGRAM@*/", program_part)
    )
    return Exported(source, limit, checked)


def _header(program: Program, limit: int, checked: int, own_cut: int, stop: int) -> str:
    name = Path(program.filename).name
    exe = Path(name).with_suffix(".exe").name
    c = Path(name).with_suffix(".c").name
    n = len(program.steps)
    lines = [
        f"/* {name}: a wsa-harness program as a standalone Winsock test.",
        " *",
        f" * Generated by `wsa-harness export c {name} -o {c}`; do not edit.",
        f" * Build:  {MINGW} -O2 -o {exe} {c} -lws2_32",
        f" *    or:  cl /nologo /O2 {c}",
        f" * Run:    {exe} > {Path(name).stem}.trace",
        " * Then, with wsa-harness:",
        f" *         wsa-harness conformance --import {Path(name).stem}.trace --engine windows",
        " *",
        f" * It runs {limit} of the program's {n} steps and checks {checked} of them against the",
        f" * program's expectations (@profile {program.profile.name}), as a real stack shows them:",
        " * byte counts by class (0, all, partial), `ok` for a descriptor.",
    ]
    if stop < n:
        lines.append(
            f" * It stops before line {program.steps[stop].line}: a step the export cannot express."
        )
    elif own_cut < n:
        lines.append(
            f" * Steps from line {program.steps[own_cut].line} on are not checked: the model's "
            "buffers and a real"
        )
        lines.append(" * stack's differ there (docs/conformance.md, Buffering).")
    lines += [
        " * Exit status: 0 all checked steps match, 1 a mismatch (named FILE:LINE on",
        " * stderr), 2 the peer process failed.",
        " */",
    ]
    return "\n".join(lines)


def _ops_part() -> str:
    ops = ",\n".join(f"    OP_{op.name} = {int(op)}" for op in Op)
    names = [(c, n, 0) for c, n in sorted(ERROR_NAMES.items())]
    names += [(c, n, 1) for c, n in sorted(EXTRA_NAMES.items()) if c not in ERROR_NAMES]
    table = "\n".join(f"    {{{c}, {c_string(n)}, {e}}}," for c, n, e in names)
    return (
        f"enum {{\n{ops}\n}};\n#define MODE_ROUTINE {int(Mode.ROUTINE)}\n\n"
        "/* Winsock error names; extra: not one the model returns (errnomap.py) */\n"
        "static const struct {\n    int code;\n    const char *name;\n    int extra;\n"
        f"}} error_names[] = {{\n{table}\n    {{0, NULL, 0}}}};"
    )


BUILD_MINGW = """#!/bin/sh
# Build every exported program with MinGW-w64 (cross or native).
# Usage: ./build-mingw.sh [CC]   (default: {mingw})
set -e
cd "$(dirname "$0")"
CC=${{1:-{mingw}}}
for c in *.c; do
    echo "$CC -O2 -o ${{c%.c}}.exe $c -lws2_32"
    "$CC" -O2 -o "${{c%.c}}.exe" "$c" -lws2_32
done
"""

BUILD_MSVC = """@echo off
rem Build every exported program with MSVC: run from a Developer Command Prompt.
cd /d "%~dp0"
for %%f in (*.c) do (
    echo cl /nologo /O2 %%f
    cl /nologo /O2 %%f || exit /b 1
)
"""

RUN_ALL = """@echo off
rem Run every exported program; the traces go to windows.trace, mismatches to the console.
rem Then: wsa-harness conformance --import windows.trace --engine windows
cd /d "%~dp0"
type nul > windows.trace
for %%f in (*.exe) do (
    echo %%f
    %%f >> windows.trace
)
"""


def export_corpus(
    programs: list[tuple[Program, str]], out: Path, prefix: bool = False
) -> tuple[list[str], list[str]]:
    """Export each program into ``out`` with build and run scripts.

    Returns (the files written, the refusals).
    """
    from harness.vocab.fsutil import write_atomic

    out.mkdir(parents=True, exist_ok=True)
    written, refused = [], []
    for program, text in programs:
        try:
            exported = export_program(program, text, prefix=prefix)
        except ExportError as exc:
            refused.append(str(exc))
            continue
        path = out / Path(program.filename).with_suffix(".c").name
        write_atomic(path, exported.source)
        written.append(path.name)
    script = out / "build-mingw.sh"
    write_atomic(script, BUILD_MINGW.format(mingw=MINGW))
    script.chmod(0o755)
    write_atomic(out / "build-msvc.bat", BUILD_MSVC.replace("\n", "\r\n"))
    write_atomic(out / "run-all.bat", RUN_ALL.replace("\n", "\r\n"))
    return written, refused
