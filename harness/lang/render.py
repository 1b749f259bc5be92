"""The program printer: canonical program text (PROGRAMS.md).

``parse(format_program(p))`` gives back ``p`` for every program the parser
produces, up to line numbers and the file name (see :func:`same_program`).
:func:`with_expectations` fills a program's expectations from a run, so that
printing it gives "the same program with every result and event filled in".
"""

from __future__ import annotations

import dataclasses

from harness.lang.program import Expect, Invalid, Program, Raw, Step, Target, Var
from harness.lang.syntax import OP_NAMES, comment_text, is_literal, usage_words
from harness.vocab.constants import FD_NAMES, Mode, SockType
from harness.vocab.errors import HarnessError
from harness.vocab.profiles import DEFAULT_LIMITS, DOCUMENTED, Limits
from harness.vocab.trace import Trace, render_event, render_result

__all__ = ["format_program", "format_step", "format_line", "same_program", "with_expectations"]

#: The step text is padded to this width before `` -> RESULT``.
RESULT_COLUMN = 32
EVENT_INDENT = "  ! "
#: The order in which ``@limits`` prints its keys (as in PROGRAMS.md's example).
LIMITS_ORDER = ("sockets", "sndbuf", "window", "descriptors")
_CHOICES: dict[str, dict[int, str]] = {
    "stream|dgram": {SockType.STREAM: "stream", SockType.DGRAM: "dgram"},
    "event|routine": {Mode.EVENT: "event", Mode.ROUTINE: "routine"},
    "HOW": {0: "SD_RECEIVE", 1: "SD_SEND", 2: "SD_BOTH"},
}


def _target(target: Target | None) -> str:
    if isinstance(target, Var):
        return target.name
    if isinstance(target, Raw):
        return f"#{target.value}"
    if isinstance(target, Invalid):
        return "INVALID_SOCKET"
    return "?"


def _mask(mask: int) -> str:
    if mask == 0:
        return "0"
    names = [name for bit, name in sorted(FD_NAMES.items()) if mask & bit]
    rest = mask & ~sum(FD_NAMES)
    # Bits with no name cannot be written in a program; show them so the problem is visible.
    return "|".join(names + ([hex(rest)] if rest else []))


def format_step(step: Step) -> str:
    """The step's text without its expectation or comment: ``t0: s1 = socket stream``."""
    parts: list[str] = []
    if step.thread is not None:
        parts.append(f"t{step.thread}:")
    if step.bind is not None:
        parts += [step.bind, "="]
    parts.append(OP_NAMES[step.op])
    args = iter(step.args)
    for word in usage_words(step.op):
        if word in ("S", "C", "oN"):
            parts.append(_target(step.target))
        elif word == "[window=N]":
            if step.args and step.args[0] >= 0:  # -1 is the lowered "default window"
                parts.append(f"window={step.args[0]}")
        elif word == "M.m":
            parts.append(f"{next(args, 0)}.{next(args, 0)}")
        elif is_literal(word):
            parts.append(word)
        else:
            value = next(args, 0)
            if word in _CHOICES:
                parts.append(_CHOICES[word].get(value, str(value)))
            elif word == "MASK":
                parts.append(_mask(value))
            else:
                parts.append(str(value))
    return " ".join(parts)


def format_line(step: Step) -> str:
    """The step's line: its text, `` -> RESULT`` if it has one, and its comment."""
    text = format_step(step)
    if step.expect is not None:
        text = f"{text:<{RESULT_COLUMN}} -> {step.expect.result}"
    if step.comment is not None:
        text = f"{text}  {comment_text(step.comment)}"
    return text


def _comment_lines(comments: tuple[str, ...]) -> list[str]:
    return [comment_text(line) for c in comments for line in c.split("\n")]


def _limits_line(limits: Limits) -> str:
    return " ".join(["@limits", *(f"{k}={getattr(limits, k)}" for k in LIMITS_ORDER)])


def format_program(program: Program) -> str:
    """The program as canonical text, one step per line, ending in a newline.

    A header is printed when the source gave it, or when the value differs
    from the default (so that the text always means the same program).
    """
    lines = _comment_lines(program.header_comments)
    if program.has_profile or program.profile != DOCUMENTED:
        lines.append(f"@profile {program.profile.name}")
    if program.has_limits or program.limits != DEFAULT_LIMITS:
        lines.append(_limits_line(program.limits))
    for step in program.steps:
        lines += _comment_lines(step.comments_before)
        lines.append(format_line(step))
        if step.expect is not None:
            lines += [EVENT_INDENT + event for event in step.expect.events]
    lines += _comment_lines(program.trailing_comments)
    return "".join(line + "\n" for line in lines)


def _without_positions(program: Program) -> Program:
    steps = tuple(dataclasses.replace(s, line=0) for s in program.steps)
    return dataclasses.replace(program, steps=steps, filename="")


def same_program(a: Program, b: Program) -> bool:
    """Whether two programs are equal apart from line numbers and file names."""
    return _without_positions(a) == _without_positions(b)


def with_expectations(program: Program, trace: Trace) -> Program:
    """The program with every step's expectation taken from a run's trace.

    Operation and peer ids in events are printed as the ``oN`` / ``cN``
    variable whose step bound that id.
    """
    if len(trace.steps) != len(program.steps):
        raise ValueError(
            f"the trace has {len(trace.steps)} steps but the program has {len(program.steps)}"
        )
    op_vars: dict[int, str] = {}
    peer_vars: dict[int, str] = {}
    for step, outcome in zip(program.steps, trace.steps, strict=True):
        if step.bind is not None and outcome.bound != 0:
            if step.bind.startswith("o"):
                op_vars.setdefault(outcome.bound, step.bind)
            elif step.bind.startswith("c"):
                peer_vars.setdefault(outcome.bound, step.bind)

    def op_name(i: int) -> str:
        return op_vars.get(i, f"op{i}")

    def peer_name(i: int) -> str:
        return peer_vars.get(i, f"peer{i}")

    steps = tuple(
        dataclasses.replace(
            step,
            expect=Expect(
                render_result(outcome.result),
                tuple(render_event(e, op_name, peer_name) for e in outcome.events),
            ),
        )
        for step, outcome in zip(program.steps, trace.steps, strict=True)
    )
    return dataclasses.replace(program, steps=steps)


def update_text(read: Program, filled: Program) -> str:
    """The text an ``--update`` writes for ``filled`` (``read`` with its
    expectations), parsed back first: an update never writes fewer steps than
    it read, whatever the text held (a ProgramError or a HarnessError naming
    the file otherwise, and the file is left alone)."""
    from harness.lang.parser import parse  # the parser does not import the printer

    text = format_program(filled)
    name = read.filename or "<program>"
    again = parse(text, name)
    if len(again.steps) != len(read.steps):
        raise HarnessError(
            f"{name}: an update would write {len(again.steps)} step(s) of the "
            f"{len(read.steps)} read; the file is left as it was"
        )
    return text
