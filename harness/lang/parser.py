"""The program text parser (PROGRAMS.md).

:func:`parse` turns program text into a :class:`harness.lang.program.Program`;
every malformed line raises :class:`harness.vocab.errors.ProgramError` with the
file and line.  The printer is :mod:`harness.lang.render`.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import stat

from harness.lang.expectations import normalize_event, normalize_result
from harness.lang.program import Expect, Invalid, Program, Raw, Step, Target, Var, variable_slots
from harness.lang.syntax import (
    BIND_LETTER,
    HOW_RANGE,
    NUMBER_PARAMS,
    RAW_RANGE,
    STEP_OPS,
    THREAD_RE,
    VAR_KIND,
    VAR_RE,
    VERSION_RANGE,
    WINDOW_RANGE,
    LineError,
    is_call,
    is_literal,
    is_number,
    parse_number,
    q,
    split_comment,
    thread_number,
    usage_words,
)
from harness.vocab.constants import FD_BITS, MAX_U32, SD_NAMES, Mode, Op, SockType
from harness.vocab.errors import HarnessError, ProgramError
from harness.vocab.profiles import DEFAULT_LIMITS, DOCUMENTED, LIMIT_RANGES, Limits, get_profile

__all__ = ["StepParser", "parse", "parse_file"]

_PREFIX_RE = re.compile(r"([A-Za-z0-9_]+)\s*:\s*")
_BIND_RE = re.compile(r"([A-Za-z0-9_]+)\s*=\s*")
_SOCK_TYPES = {"stream": SockType.STREAM, "dgram": SockType.DGRAM}
_MODES = {"event": Mode.EVENT, "routine": Mode.ROUTINE}
_HEADERS = ("@profile", "@limits")


#: A line ends at LF, CRLF or a lone CR (decision D39): old Mac files keep their steps.
_LINE_END_RE = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"


def lines(text: str) -> list[str]:
    """The lines of program text: a leading byte order mark is dropped, and
    LF, CRLF and a lone CR all end a line (decision D39)."""
    return _LINE_END_RE.split(text.removeprefix(_BOM))


def parse(text: str, filename: str = "<program>") -> Program:
    """Parse program text.  Raises ProgramError on the first bad line."""
    parser = _Parser(filename)
    for number, line in enumerate(lines(text), 1):
        try:
            parser.line(number, line)
        except LineError as exc:
            raise ProgramError(filename, number, exc.message) from None
    return parser.finish()


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """A program file's bytes.  Only a regular file is read: a fifo, a device
    or a directory is refused without being opened for blocking reads (a fifo
    would wait for a writer forever).  Problems are HarnessErrors naming the
    path."""
    filename = os.fspath(path)
    try:
        fd = os.open(filename, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise HarnessError(f"{filename}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise HarnessError(f"{filename}: is a directory")
        if not stat.S_ISREG(mode):
            kind = "a fifo" if stat.S_ISFIFO(mode) else "a device or socket"
            raise HarnessError(f"{filename}: not a regular file ({kind})")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return f.read()
    except OSError as exc:
        raise HarnessError(f"{filename}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)


def parse_file(path: str | os.PathLike[str]) -> Program:
    """Read and parse a program file (UTF-8).  Bad text is a ProgramError
    ``FILE:LINE: message``; a file that cannot be read is a HarnessError."""
    filename = os.fspath(path)
    data = read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start].decode("utf-8").removeprefix(_BOM)
        line = len(lines(before))
        raise ProgramError(filename, line, "invalid UTF-8") from None
    return parse(text, filename)


class StepParser:
    """Reads a program one step line at a time, with the checks :func:`parse`
    makes (the stepwise :class:`harness.library.stack.Stack` builds its program so).

    A bad line raises ProgramError naming ``filename`` and the line's number
    (its step number) and leaves the parser as it was.
    """

    def __init__(self, filename: str = "<steps>") -> None:
        self._parser = _Parser(filename)

    @property
    def bound(self) -> frozenset[str]:
        """The variables bound so far."""
        return frozenset(self._parser.bound)

    def step(self, line: str) -> Step:
        """Parse ``line`` as the next step (no ``->`` expectation, no comment)."""
        parser = self._parser
        number = len(parser.steps) + 1
        code, comment = split_comment(line)
        code = code.strip()
        try:
            if comment is not None or not code or code[0] in "@!" or "->" in code:
                raise LineError(f"expected one step without '->' or a comment, got {q(line)}")
            parser.step(number, code, None)
        except LineError as exc:
            raise ProgramError(parser.filename, number, exc.message) from None
        return parser.steps[-1]


def _plural(n: int) -> str:
    return f"{n} argument" if n == 1 else f"{n} arguments"


def _counts(words_list: list[list[str]]) -> list[int]:
    counts: set[int] = set()
    for words in words_list:
        optional = sum(1 for w in words if w.startswith("["))
        counts.update(range(len(words) - optional, len(words) + 1))
    return sorted(counts)


def _arity_error(name: str, ops: tuple[Op, ...], got: int) -> LineError:
    words_list = [usage_words(op) for op in ops]
    counts = _counts(words_list)
    if counts == [0]:
        return LineError(f"{q(name)} takes no arguments, got {got}")
    wanted = _plural(counts[0]) if len(counts) == 1 else f"{counts[0]} or {_plural(counts[-1])}"
    usages = " | ".join(" ".join([name, *words]) for words in words_list)
    return LineError(f"{q(name)} takes {wanted} ({usages}), got {got}")


class _Parser:
    """Line-by-line parser state."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.steps: list[Step] = []
        self.events: list[list[str]] = []
        self.bound: dict[str, int] = {}
        self.header_comments: list[str] = []
        self.pending_comments: list[str] = []
        self.headers: set[str] = set()
        self.profile = DOCUMENTED
        self.limits = DEFAULT_LIMITS

    # --- lines -------------------------------------------------------------------

    def line(self, number: int, line: str) -> None:
        code, comment = split_comment(line)
        code = code.strip()
        if not code:
            if comment is not None:
                (self.pending_comments if self.steps else self.header_comments).append(comment)
        elif code.startswith("@"):
            self.header(code)
            if comment is not None:
                self.header_comments.append(comment)
        elif code.startswith("!"):
            self.event(code[1:])
        else:
            self.step(number, code, comment)

    def finish(self) -> Program:
        steps = tuple(
            dataclasses.replace(s, expect=Expect(s.expect.result, tuple(events)))
            if s.expect is not None and events
            else s
            for s, events in zip(self.steps, self.events, strict=True)
        )
        return Program(
            steps=steps,
            profile=self.profile,
            limits=self.limits,
            has_profile="@profile" in self.headers,
            has_limits="@limits" in self.headers,
            header_comments=tuple(self.header_comments),
            filename=self.filename,
            slots=variable_slots(steps),
            trailing_comments=tuple(self.pending_comments),
        )

    # --- headers -----------------------------------------------------------------

    def header(self, code: str) -> None:
        kind, *words = code.split()
        if self.steps:
            raise LineError("header after the first step")
        if kind not in _HEADERS:
            raise LineError(f"unknown header {q(kind)} (known: {', '.join(_HEADERS)})")
        if kind in self.headers:
            raise LineError(f"duplicate {kind} header")
        self.headers.add(kind)
        if kind == "@profile":
            if len(words) != 1:
                raise LineError(f"'@profile' takes one name, got {len(words)}")
            try:
                self.profile = get_profile(words[0])
            except KeyError as exc:
                raise LineError(str(exc.args[0])) from None
        else:
            self.limits = self.parse_limits(words)

    @staticmethod
    def parse_limits(words: list[str]) -> Limits:
        values: dict[str, int] = {}
        for word in words:
            key, eq, value = word.partition("=")
            if not eq:
                raise LineError(f"expected NAME=N in @limits, got {q(word)}")
            if key not in LIMIT_RANGES:
                known = ", ".join(LIMIT_RANGES)
                raise LineError(f"unknown limit {q(key)} (known: {known})")
            if key in values:
                raise LineError(f"duplicate limit {q(key)}")
            values[key] = parse_number(value, key, LIMIT_RANGES[key])
        return dataclasses.replace(DEFAULT_LIMITS, **values)

    # --- events ------------------------------------------------------------------

    def event(self, text: str) -> None:
        if not self.steps:
            raise LineError("'!' event line before the first step")
        if self.steps[-1].expect is None:
            raise LineError("'!' event line under a step without '->'")
        self.events[-1].append(normalize_event(text, self.bound))

    # --- steps -------------------------------------------------------------------

    def step(self, number: int, code: str, comment: str | None) -> None:
        text, arrow, result = code.partition("->")
        thread: int | None = None
        m = _PREFIX_RE.match(text)
        if m is not None:
            thread = thread_number(m.group(1))
            text = text[m.end() :]
        bind: str | None = None
        m = _BIND_RE.match(text)
        if m is not None:
            bind = m.group(1)
            text = text[m.end() :]
        words = text.split()
        if not words:
            raise LineError("missing step name" + (" before '->'" if arrow else ""))
        name, args = words[0], words[1:]
        ops = STEP_OPS.get(name)
        if ops is None:
            if thread is None and THREAD_RE.fullmatch(name) and args:
                raise LineError(f"missing ':' after thread {q(name)}")
            close = difflib.get_close_matches(name, STEP_OPS, n=1)
            hint = f" (did you mean {q(close[0])}?)" if close else ""
            raise LineError(f"unknown step {q(name)}{hint}")
        self.check_thread(ops[0], name, thread)
        self.check_bind(ops[0], name, bind)
        op = self.choose(name, ops, args)
        target, values = self.arguments(op, args)
        expect = Expect(normalize_result(result)) if arrow else None
        if bind is not None:
            self.bound[bind] = number
        self.steps.append(
            Step(
                op=op,
                thread=thread,
                bind=bind,
                target=target,
                args=values,
                expect=expect,
                line=number,
                comment=comment,
                comments_before=tuple(self.pending_comments),
            )
        )
        self.events.append([])
        self.pending_comments = []

    @staticmethod
    def choose(name: str, ops: tuple[Op, ...], args: list[str]) -> Op:
        """Pick the op (by its keyword argument when a name has several) and check arity."""
        op = ops[0]
        if len(ops) > 1:
            # The keyword that picks the op stands at the same place in every usage.
            at = next(i for i, w in enumerate(usage_words(op)) if is_literal(w))
            if len(args) <= at:
                raise _arity_error(name, ops, len(args))
            keywords = [usage_words(o)[at] for o in ops]
            if args[at] not in keywords:
                raise LineError(f"expected {' or '.join(keywords)}, got {q(args[at])}")
            op = ops[keywords.index(args[at])]
        words = usage_words(op)
        if len(args) not in _counts([words]):
            raise _arity_error(name, (op,), len(args))
        return op

    @staticmethod
    def check_thread(op: Op, name: str, thread: int | None) -> None:
        if is_call(op):
            if thread is None:
                raise LineError(f"{q(name)} is a call and needs a thread prefix: tN: {name} ...")
        elif thread is not None:
            kind = "an observation" if op == Op.OVL else "an environment step"
            raise LineError(f"{q(name)} is {kind} and takes no thread prefix")

    def check_bind(self, op: Op, name: str, bind: str | None) -> None:
        letter = BIND_LETTER.get(op)
        if letter is None:
            if bind is not None:
                raise LineError(f"{q(name)} does not bind a variable (found '{bind} =')")
            return
        if bind is None:
            raise LineError(f"{q(name)} needs a variable: {letter}N = {name} ...")
        if VAR_RE.fullmatch(bind) is None or bind[0] != letter:
            raise LineError(f"{q(name)} binds {VAR_KIND[letter]} variable, not {q(bind)}")
        if bind in self.bound:
            raise LineError(f"variable {bind} is already bound (line {self.bound[bind]})")

    # --- arguments ---------------------------------------------------------------

    def arguments(self, op: Op, args: list[str]) -> tuple[Target | None, tuple[int, ...]]:
        """Read ``args`` by the op's usage words: the target and the numeric arguments."""
        target: Target | None = None
        values: list[int] = []
        for word, arg in zip(usage_words(op), args, strict=False):
            if word == "S":
                target = self.descriptor(arg)
            elif word == "C":
                target = self.variable(arg, "c", "a peer variable cN")
            elif word == "oN":
                target = self.variable(arg, "o", "an operation variable oN")
            elif word in NUMBER_PARAMS:
                values.append(parse_number(arg, word, NUMBER_PARAMS[word]))
            elif word == "M.m":
                values.extend(_version(arg))
            elif word == "stream|dgram":
                values.append(_choice(arg, _SOCK_TYPES))
            elif word == "event|routine":
                values.append(_choice(arg, _MODES))
            elif word == "HOW":
                values.append(_how(arg))
            elif word == "MASK":
                values.append(_mask(arg))
            elif word == "[window=N]":
                key, eq, value = arg.partition("=")
                if key != "window" or not eq:
                    raise LineError(f"expected window=N, got {q(arg)}")
                values.append(parse_number(value, "window", WINDOW_RANGE))
            elif arg != word:
                raise LineError(f"expected {word}, got {q(arg)}")
        return target, tuple(values)

    def variable(self, token: str, letter: str, wanted: str) -> Var:
        if VAR_RE.fullmatch(token) is None or token[0] != letter:
            raise LineError(f"expected {wanted}, got {q(token)}")
        if token not in self.bound:
            raise LineError(f"variable {token} is not bound")
        return Var(token)

    def descriptor(self, token: str) -> Target:
        if token == "INVALID_SOCKET":
            return Invalid()
        if token.startswith("#"):
            return Raw(parse_number(token[1:], "#N", RAW_RANGE, shown=token))
        return self.variable(token, "s", "a descriptor (sN, #N or INVALID_SOCKET)")


def _version(token: str) -> tuple[int, int]:
    parts = token.split(".")
    if len(parts) != 2:
        raise LineError(f"expected a version M.m, got {q(token)}")
    return (
        parse_number(parts[0], "M", VERSION_RANGE),
        parse_number(parts[1], "m", VERSION_RANGE),
    )


def _choice(token: str, choices: dict[str, SockType] | dict[str, Mode]) -> int:
    if token not in choices:
        raise LineError(f"expected {' or '.join(choices)}, got {q(token)}")
    return choices[token]


def _how(token: str) -> int:
    if token in SD_NAMES:
        return SD_NAMES[token]
    if not is_number(token):
        names = ", ".join(SD_NAMES)
        raise LineError(f"expected {names} or a number for HOW, got {q(token)}")
    return parse_number(token, "HOW", HOW_RANGE)


def _mask(token: str) -> int:
    if is_number(token) and parse_number(token, "MASK", (0, MAX_U32)) == 0:
        return 0
    mask = 0
    for name in token.split("|"):
        bit = FD_BITS.get(name)
        if bit is None and name.startswith("FD_"):
            raise LineError(f"unknown mask name {q(name)} (known: {', '.join(FD_BITS)})")
        if bit is None:
            raise LineError(
                f"bad mask {q(token)} (FD_READ, FD_WRITE, FD_CLOSE joined by '|', or 0)"
            )
        if mask & bit:
            raise LineError(f"duplicate {name} in mask {q(token)}")
        mask |= bit
    return mask
