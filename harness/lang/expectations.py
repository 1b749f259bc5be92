"""Validation and normalization of expected results and events (PROGRAMS.md
"Results" and "Events").

Both functions return the canonical text (single spaces, decimal numbers,
names checked), which is exactly what :func:`harness.vocab.trace.render_result` and
:func:`harness.vocab.trace.render_event` print, so a checked step compares by string
equality.  Problems raise :class:`harness.lang.syntax.LineError`.
"""

from __future__ import annotations

import re
from collections.abc import Container

from harness.lang.syntax import (
    PROCESS_RE,
    RESULT_RANGE,
    VAR_RE,
    LineError,
    is_number,
    parse_number,
    q,
    thread_number,
)
from harness.vocab.constants import BLOCKING_CALL_NAMES, ERROR_CODES, FD_BITS, NOTE_NAMES

KEYWORD_RESULTS = frozenset({"none", "blocked", "rejected", "ok", "pending"})
NOTES = frozenset(NOTE_NAMES.values())
COMPLETION_CALLS = frozenset(BLOCKING_CALL_NAMES.values())
_NUM = r"(0x[0-9a-fA-F]+|[0-9]+)"
_LINGER_RE = re.compile(rf"{_NUM}\s*\{{\s*onoff\s*=\s*{_NUM}\s*,\s*linger\s*=\s*{_NUM}\s*\}}")


def _num(token: str, label: str = "the result") -> str:
    return str(parse_number(token, label, RESULT_RANGE))


def _error(token: str) -> str:
    if token not in ERROR_CODES:
        raise LineError(f"unknown error name {q(token)}")
    return token


def _error_or_zero(token: str) -> str:
    return "0" if token == "0" else _error(token)


def _note(token: str) -> str:
    if token not in NOTES:
        raise LineError(f"unknown note {q(token)} (known: {', '.join(NOTE_NAMES.values())})")
    return token


def _fd(token: str) -> str:
    if token not in FD_BITS:
        raise LineError(f"unknown message {q(token)} (known: {', '.join(FD_BITS)})")
    return token


def _raw(token: str) -> str:
    if not token.startswith("#"):
        raise LineError(f"expected a descriptor value #N, got {q(token)}")
    return "#" + str(parse_number(token[1:], "#N", RESULT_RANGE, shown=token))


def _message(toks: list[str]) -> str:
    """``FD_READ #4 0``: getmessage's result and the tail of a ``posted`` event."""
    return f"{_fd(toks[0])} {_raw(toks[1])} {_error_or_zero(toks[2])}"


def _ovl(toks: list[str], text: str) -> str | None:
    """``pending``, ``done N NOTE``, ``failed ERR NOTE``; None if not that form."""
    if toks[0] == "done" and len(toks) == 3:
        return f"done {_num(toks[1], 'N')} {_note(toks[2])}"
    if toks[0] == "failed" and len(toks) == 3:
        return f"failed {_error(toks[1])} {_note(toks[2])}"
    if toks[0] in ("done", "failed"):
        raise LineError(f"malformed result {q(text)} (expected {toks[0]} N NOTE)")
    return None


def normalize_result(text: str) -> str:
    """Validate a result (the text after ``->``) and return its canonical form."""
    toks = text.split()
    if not toks:
        raise LineError("missing result after '->'")
    shown = " ".join(toks)
    if "{" in text or "}" in text:
        m = _LINGER_RE.fullmatch(text.strip())
        if m is None:
            raise LineError(f"malformed result {q(shown)} (expected 0 {{onoff=N, linger=N}})")
        value, onoff, linger = _num(m[1]), _num(m[2], "onoff"), _num(m[3], "linger")
        return f"{value} {{onoff={onoff}, linger={linger}}}"
    ovl = _ovl(toks, shown)
    if ovl is not None:
        return ovl
    head = toks[0]
    if len(toks) == 1:
        if head in KEYWORD_RESULTS:
            return head
        if is_number(head):
            return _num(head)
        if head in ERROR_CODES or head.startswith(("WSA", "ERROR_")):
            return _error(head)
    elif len(toks) == 2:
        if head in ("SOCKET_ERROR", "INVALID_SOCKET"):
            return f"{head} {_error(toks[1])}"
        if is_number(head) and is_number(toks[1]):
            return f"{_num(head)} {_num(toks[1])}"
    elif len(toks) == 3 and head.startswith("FD_"):
        return _message(toks)
    if head.startswith("FD_"):
        raise LineError(f"malformed result {q(shown)} (expected FD_xxx #N ERR)")
    raise LineError(f"malformed result {q(shown)}")


def _bound_var(token: str, letter: str, bound: Container[str]) -> str:
    if VAR_RE.fullmatch(token) is None or token[0] != letter:
        return ""
    if token not in bound:
        raise LineError(f"variable {token} is not bound")
    return token


def normalize_event(text: str, bound: Container[str]) -> str:
    """Validate an event (the text after ``!``) and return its canonical form.

    ``bound`` holds the variables bound so far, including by the step the event
    stands under.
    """
    toks = text.split()
    shown = " ".join(toks)
    if not toks:
        raise LineError("empty event after '!'")
    head = toks[0]
    n = len(toks)
    if head[:1] == "t" and n >= 3 and toks[2] == "->":
        # t1 recv -> 100 | t1 recv -> SOCKET_ERROR WSAEINTR
        thread_number(head)
        if toks[1] not in COMPLETION_CALLS:
            known = ", ".join(sorted(COMPLETION_CALLS))
            raise LineError(f"unknown blocking call {q(toks[1])} (known: {known})")
        rest = toks[3:]
        if len(rest) == 1 and is_number(rest[0]):
            return f"{head} {toks[1]} -> {_num(rest[0])}"
        if len(rest) == 2 and rest[0] == "SOCKET_ERROR":
            return f"{head} {toks[1]} -> SOCKET_ERROR {_error(rest[1])}"
        raise LineError(f"malformed event {q(shown)} (expected tN CALL -> N|SOCKET_ERROR ERR)")
    if _bound_var(head, "o", bound):
        if n >= 2 and toks[1] == "->":
            ovl = _ovl(toks[2:], " ".join(toks[2:])) if n > 2 else None
            if ovl is None:
                raise LineError(f"malformed event {q(shown)} (expected oN -> done|failed ...)")
            return f"{head} -> {ovl}"
        if n == 3 and toks[1] == "routine-ran":
            return f"{head} routine-ran t{thread_number(toks[2])}"
        raise LineError(f"malformed event {q(shown)}")
    if _bound_var(head, "c", bound):
        if n == 2 and toks[1] in ("fin", "reset"):
            return shown
        raise LineError(f"malformed event {q(shown)} (expected cN fin|reset)")
    if head == "posted" and n == 5:
        if PROCESS_RE.fullmatch(toks[1]) is None:
            raise LineError(f"unknown process {q(toks[1])}")
        return f"posted {toks[1]} {_message(toks[2:])}"
    if head == "socket" and n == 3 and toks[2] == "destroyed":
        return f"socket {_num(toks[1], 'the socket id')} destroyed"
    raise LineError(f"malformed event {q(shown)}")
