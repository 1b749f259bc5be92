"""The argument ranges of both engines' Python API: ``Engine.step`` and ``Limits``.

One table, read by both engines, so that a bad argument is refused the same
way whichever engine gets it (docs/engines.md, "Arguments"):

* every argument is an ``int`` (an ``IntEnum`` such as ``Op`` is one); a
  ``bool``, a ``float`` or anything else raises ``TypeError``;
* an ``int`` outside its range raises ``ValueError``;
* both with the message :func:`check_step` (or :func:`check_limits`) builds.

The reference model calls :func:`check_step` on every step.  The compiled
core copies :data:`STEP_RANGES` into C arrays when it is imported, checks in C,
and calls :func:`check_step` to raise when its check fails, so the exception
and its text come from here either way.

The ranges are the program text's (PROGRAMS.md; harness/lang/syntax.py) where
an argument means something, so that whatever the API accepts the text can
say; ``advance`` takes any non-negative int64, and the clock saturates at
``INT64_MAX`` (decision D38).  Arguments an op ignores (``x3`` everywhere, a
target the op does not read) take any int64.  With counts at most ``MAX_U31``
a byte counter cannot overflow in fewer than 2**32 steps.
"""

from __future__ import annotations

from harness.vocab.constants import MAX_U31, MAX_U32, PEER_OPS, THREADS, Op

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT64 = (INT64_MIN, INT64_MAX)
#: The thread of a call; environment steps and ``ovl`` take -1.
CALL_THREADS = (0, THREADS - 1)
NO_THREAD = (-1, -1)
_U16 = (0, 65535)
_N = (0, MAX_U31)

#: op -> the names of (thread, target, x1, x2, x3) in messages
ARG_NAMES: dict[Op, tuple[str, str, str, str, str]] = {}
#: op -> the inclusive (low, high) ranges of (thread, target, x1, x2, x3)
STEP_RANGES: dict[Op, tuple[tuple[int, int], ...]] = {}


def _arg(op: Op, *args: tuple[str, tuple[int, int]]) -> None:
    """Declare ``op``'s x1, x2 (in order); x3 and the rest take any int64."""
    names = [a for a, _ in args] + ["x1", "x2", "x3"][len(args) :]
    spans = [r for _, r in args] + [INT64] * (3 - len(args))
    thread = CALL_THREADS if op < Op.ADVANCE else NO_THREAD
    target = "oN" if op == Op.OVL else "cN" if op in PEER_OPS else "target"
    ARG_NAMES[op] = ("thread", target, *names)  # type: ignore[assignment]
    STEP_RANGES[op] = (thread, INT64, *spans)


for _op in Op:
    _arg(_op)
_arg(Op.STARTUP, ("major", (0, 255)), ("minor", (0, 255)))
_arg(Op.SOCKET, ("type", (1, 2)))
_arg(Op.BIND, ("port", (1, 65535)))
_arg(Op.CONNECT, ("window", (-1, MAX_U31)))  # -1: the window limit
_arg(Op.SETSOCKOPT_LINGER, ("onoff", _U16), ("secs", _U16))
_arg(Op.SETSOCKOPT_DONTLINGER, ("value", (0, MAX_U32)))
_arg(Op.IOCTLSOCKET_FIONBIO, ("value", (0, MAX_U32)))
_arg(Op.SEND, ("n", _N))
_arg(Op.RECV, ("n", _N))
_arg(Op.WSASEND, ("n", _N), ("mode", (2, 3)))  # Mode.EVENT, Mode.ROUTINE
_arg(Op.WSARECV, ("n", _N), ("mode", (2, 3)))
_arg(Op.SHUTDOWN, ("how", (0, MAX_U32)))
_arg(Op.ASYNCSELECT, ("mask", (0, MAX_U32)))
_arg(Op.DUPLICATE, ("pid", (0, MAX_U32)))
_arg(Op.ADVANCE, ("ms", (0, INT64_MAX)))
_arg(Op.PEER_RECV, ("n", _N))
_arg(Op.PEER_SEND, ("n", _N))

#: Limits field -> its inclusive (low, high) range
LIMIT_RANGES: dict[str, tuple[int, int]] = {
    "sockets": (0, 1048576),
    "descriptors": (1, 1048576),
    "sndbuf": (0, MAX_U31),
    "window": (0, MAX_U31),
}
OP_RANGE = (min(Op), max(Op))


def is_int(value: object) -> bool:
    """An ``int`` (or an int subclass such as an IntEnum), never a ``bool``."""
    return isinstance(value, int) and not isinstance(value, bool)


def _type_error(what: str, value: object) -> TypeError:
    return TypeError(f"{what} must be an int, got {value!r} ({type(value).__name__})")


def _check(what: str, value: object, span: tuple[int, int]) -> None:
    if not is_int(value):
        raise _type_error(what, value)
    lo, hi = span
    if not lo <= value <= hi:  # type: ignore[operator]
        raise ValueError(f"{what} {value} out of range ({lo}..{hi})")


#: op value -> its five (low, high) pairs flattened, for the fast path
_FLAT: dict[int, tuple[int, ...]] = {
    int(op): tuple(v for span in spans for v in span) for op, spans in STEP_RANGES.items()
}


def check_step(
    op: object, thread: object, target: object, x1: object, x2: object, x3: object
) -> None:
    """Raise TypeError or ValueError unless the step's arguments are in range."""
    # the fast path (every reference step comes here): plain ints, all in range
    flat = _FLAT.get(op) if type(op) is Op or type(op) is int else None
    if (
        flat is not None
        and type(thread) is int
        and type(target) is int
        and type(x1) is int
        and type(x2) is int
        and type(x3) is int
        and flat[0] <= thread <= flat[1]
        and flat[2] <= target <= flat[3]
        and flat[4] <= x1 <= flat[5]
        and flat[6] <= x2 <= flat[7]
        and flat[8] <= x3 <= flat[9]
    ):
        return
    _check("op", op, OP_RANGE)
    code = Op(op)  # type: ignore[arg-type]
    name = code.name.lower()
    values = (thread, target, x1, x2, x3)
    for label, value, span in zip(ARG_NAMES[code], values, STEP_RANGES[code], strict=True):
        _check(f"{name}: {label}", value, span)


def check_limits(sockets: object, descriptors: object, sndbuf: object, window: object) -> None:
    """Raise TypeError or ValueError unless every limit is in range."""
    for (label, span), value in zip(
        LIMIT_RANGES.items(), (sockets, descriptors, sndbuf, window), strict=True
    ):
        _check(f"limit {label}", value, span)
