"""Vocabulary of the program text format (PROGRAMS.md), shared by the parser
and the printer: step names and their argument grammars, comments, numbers
and variables.

Each op has a *usage* string such as ``"bind S PORT"``.  Its words after the
step name are the argument grammar: the parser reads arguments by it and the
printer writes them by it, so the two cannot drift apart.  Words that are not
parameter kinds (``SO_LINGER``, ``FIONBIO``) are literal keywords.
"""

from __future__ import annotations

import re

from harness.vocab.constants import MAX_U31, MAX_U32, THREAD_OPS, Op

USAGE: dict[Op, str] = {
    Op.STARTUP: "startup M.m",
    Op.CLEANUP: "cleanup",
    Op.SOCKET: "socket stream|dgram",
    Op.BIND: "bind S PORT",
    Op.CONNECT: "connect S [window=N]",
    Op.SETSOCKOPT_LINGER: "setsockopt S SO_LINGER ONOFF SECS",
    Op.SETSOCKOPT_DONTLINGER: "setsockopt S SO_DONTLINGER V",
    Op.GETSOCKOPT_LINGER: "getsockopt S SO_LINGER",
    Op.GETSOCKOPT_DONTLINGER: "getsockopt S SO_DONTLINGER",
    Op.IOCTLSOCKET_FIONBIO: "ioctlsocket S FIONBIO V",
    Op.SEND: "send S N",
    Op.RECV: "recv S N",
    Op.WSASEND: "wsasend S N event|routine",
    Op.WSARECV: "wsarecv S N event|routine",
    Op.SHUTDOWN: "shutdown S HOW",
    Op.ASYNCSELECT: "asyncselect S MASK",
    Op.DUPLICATE: "duplicate S PID",
    Op.CLOSESOCKET: "closesocket S",
    Op.CANCELBLOCKING: "cancelblocking",
    Op.GETLASTERROR: "getlasterror",
    Op.GETMESSAGE: "getmessage",
    Op.SLEEPEX: "sleepex",
    Op.ADVANCE: "advance MS",
    Op.NET_DOWN: "net_down",
    Op.NET_UP: "net_up",
    Op.PEER_RECV: "peer_recv C N",
    Op.PEER_SEND: "peer_send C N",
    Op.PEER_CLOSE: "peer_close C",
    Op.PEER_RESET: "peer_reset C",
    Op.OVL: "ovl oN",
}

#: The step name of each op (``setsockopt`` for both SETSOCKOPT ops, ...).
OP_NAMES: dict[Op, str] = {op: usage.split()[0] for op, usage in USAGE.items()}
#: Step name -> its ops; several when a keyword argument picks the op.
STEP_OPS: dict[str, tuple[Op, ...]] = {}
for _op, _name in OP_NAMES.items():
    STEP_OPS[_name] = (*STEP_OPS.get(_name, ()), _op)

#: The letter of the variable an op binds: ``sN = socket ...``.
BIND_LETTER: dict[Op, str] = {
    Op.SOCKET: "s",
    Op.DUPLICATE: "s",
    Op.CONNECT: "c",
    Op.WSASEND: "o",
    Op.WSARECV: "o",
}
VAR_KIND = {"s": "an sN", "c": "a cN", "o": "an oN"}

#: Numeric parameters: name -> (minimum, maximum).
NUMBER_PARAMS: dict[str, tuple[int, int]] = {
    "PORT": (1, 65535),
    "ONOFF": (0, 65535),
    "SECS": (0, 65535),
    "N": (0, MAX_U31),
    "MS": (0, MAX_U31),
    "V": (0, MAX_U32),
    "PID": (0, MAX_U32),
}
#: Parameter kinds that are not plain numbers.
OTHER_PARAMS = frozenset(
    {"S", "C", "oN", "M.m", "stream|dgram", "event|routine", "HOW", "MASK", "[window=N]"}
)
VERSION_RANGE = (0, 255)
WINDOW_RANGE = (0, MAX_U31)
HOW_RANGE = (0, MAX_U32)
RAW_RANGE = (0, MAX_U32)
#: Numbers in results and events are canonical-trace integers.
RESULT_RANGE = (0, 2**63 - 1)


def is_literal(word: str) -> bool:
    """Whether a usage word is a literal keyword rather than a parameter."""
    return word not in NUMBER_PARAMS and word not in OTHER_PARAMS


def usage_words(op: Op) -> list[str]:
    """The argument grammar of ``op``: its usage words after the step name."""
    return USAGE[op].split()[1:]


def is_call(op: Op) -> bool:
    """Whether ``op`` is made by a thread (and so takes a ``tN:`` prefix)."""
    return op in THREAD_OPS


class LineError(Exception):
    """A problem on the current line; the parser adds the file and line number."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def visible(text: str) -> str:
    """``text`` with every invisible or control character escaped as repr does
    (``\\x00``, ``\\ufeff``, ``\\t``): a message never echoes a NUL, a BOM or
    an escape sequence raw."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def q(token: str) -> str:
    """Quote a token for an error message (invisible characters escaped)."""
    return f"'{visible(token)}'"


# --- comments ----------------------------------------------------------------

_DIGITS = "0123456789"


def split_comment(line: str) -> tuple[str, str | None]:
    """Split a line into its code and its comment (without ``#`` and the one space
    after it; trailing blanks dropped).

    ``#`` starts a comment unless a digit follows it (``#12`` is a raw
    descriptor).  The comment is None when the line has none.
    """
    start = 0
    while True:
        i = line.find("#", start)
        if i < 0:
            return line, None
        if i + 1 < len(line) and line[i + 1] in _DIGITS:
            start = i + 1
            continue
        return line[:i], line[i + 1 :].rstrip().removeprefix(" ")


def comment_text(comment: str) -> str:
    """Print a comment: ``# text`` (the space keeps ``# 12`` a comment)."""
    text = " ".join(comment.splitlines()).rstrip()
    return f"# {text}" if text else "#"


# --- numbers and names ---------------------------------------------------------

_NUMBER_RE = re.compile(r"0x[0-9a-fA-F]+|[0-9]+")
VAR_RE = re.compile(r"[sco][0-9]+")
THREAD_RE = re.compile(r"t[0-3]")
PROCESS_RE = re.compile(r"p[01]")
#: Longer decimal numbers are out of every range (and int() refuses huge ones).
_MAX_DIGITS = 40


def is_number(token: str) -> bool:
    return _NUMBER_RE.fullmatch(token) is not None


def _value(token: str) -> int | None:
    """The value of a well-formed number token, or None when it is absurdly long."""
    if token.startswith("0x"):
        digits = token[2:].lstrip("0")
        return int(token, 16) if len(digits) <= _MAX_DIGITS else None
    digits = token.lstrip("0")
    return int(token) if len(digits) <= _MAX_DIGITS else None


def parse_number(token: str, label: str, bounds: tuple[int, int], shown: str = "") -> int:
    """Parse a decimal or ``0x`` hex number within ``bounds`` (inclusive).

    ``label`` names the argument in messages; ``shown`` is the token as
    written when it differs from ``token`` (``#12``).
    """
    shown = shown or token
    if not is_number(token):
        raise LineError(f"expected a number for {label}, got {q(shown)}")
    lo, hi = bounds
    value = _value(token)
    if value is None or not lo <= value <= hi:
        raise LineError(f"number {shown} out of range for {label} ({lo}..{hi})")
    return value


def thread_number(token: str) -> int:
    """``t0``..``t3`` -> 0..3."""
    if THREAD_RE.fullmatch(token) is None:
        raise LineError(f"unknown thread {q(token)}")
    return int(token[1:])
