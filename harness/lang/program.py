"""Programs and steps: the data model shared by the parser, printer, encoder
and both engines, plus the *lowered* form that engines execute.

A :class:`Program` is what ``PROGRAMS.md`` describes: a profile, limits and a
sequence of :class:`Step`.  Steps refer to variables by name.  Lowering turns
variables into slot numbers so an engine can run a program without knowing
about names; see :func:`lower`.

Lowered layout (``array('q')``)::

    nslots, then 8 integers per step:
    op, thread, bind_slot, target_kind, target, x1, x2, x3

* ``thread`` is 0..3, or -1 for environment steps and observations.
* ``bind_slot`` is the slot the step binds (-1 if none).
* ``target_kind``: TARGET_NONE, TARGET_SLOT (``target`` is a slot number),
  TARGET_RAW (``target`` is a raw descriptor value) or TARGET_INVALID.
  Peer steps and ``ovl`` name their ``cN``/``oN`` variable by slot.
* ``x1..x3`` are the numeric arguments (see ARG_LAYOUT).

Slot values: a descriptor value (INVALID_SOCKET is -1), a peer id (0 is "no
peer") or an operation id (0 is "no operation").  An engine binds a slot to
the ``bound`` value of the step's outcome (see :mod:`harness.vocab.trace`).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

from harness.vocab.constants import Op
from harness.vocab.profiles import DEFAULT_LIMITS, DOCUMENTED, Limits, Profile

TARGET_NONE = 0
TARGET_SLOT = 1
TARGET_RAW = 2
TARGET_INVALID = 3
RECORD_WIDTH = 8
INVALID_DESCRIPTOR = -1

#: Meaning of x1, x2, x3 for each op (documentation and the encoder's guide).
ARG_LAYOUT: dict[Op, tuple[str, ...]] = {
    Op.STARTUP: ("major", "minor"),
    Op.SOCKET: ("type",),
    Op.BIND: ("port",),
    Op.CONNECT: ("window",),  # -1 means the `window` limit
    Op.SETSOCKOPT_LINGER: ("onoff", "secs"),
    Op.SETSOCKOPT_DONTLINGER: ("value",),
    Op.IOCTLSOCKET_FIONBIO: ("value",),
    Op.SEND: ("n",),
    Op.RECV: ("n",),
    Op.WSASEND: ("n", "mode"),
    Op.WSARECV: ("n", "mode"),
    Op.SHUTDOWN: ("how",),
    Op.ASYNCSELECT: ("mask",),
    Op.DUPLICATE: ("pid",),
    Op.ADVANCE: ("ms",),
    Op.PEER_RECV: ("n",),
    Op.PEER_SEND: ("n",),
}


@dataclass(frozen=True)
class Var:
    """A variable reference: ``s1``, ``c2``, ``o3``."""

    name: str


@dataclass(frozen=True)
class Raw:
    """A raw descriptor value: ``#12``."""

    value: int


@dataclass(frozen=True)
class Invalid:
    """The ``INVALID_SOCKET`` descriptor argument."""


Target = Var | Raw | Invalid


@dataclass(frozen=True)
class Expect:
    """A step's expectation: the normalized result text and event lines."""

    result: str
    events: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One line of a program.

    ``args`` holds the numeric arguments in ARG_LAYOUT order.  For CONNECT,
    ``args == ()`` means no ``window=`` was given.
    """

    op: Op
    thread: int | None = None
    bind: str | None = None
    target: Target | None = None
    args: tuple[int, ...] = ()
    expect: Expect | None = None
    line: int = 0
    #: The comment that stood on the step's line, kept for printing.
    comment: str | None = None
    #: Comment-only lines (without ``#``) between the previous step and this one.
    comments_before: tuple[str, ...] = ()


@dataclass(frozen=True)
class Program:
    steps: tuple[Step, ...]
    profile: Profile = DOCUMENTED
    limits: Limits = DEFAULT_LIMITS
    #: Whether the source gave ``@profile`` / ``@limits`` explicitly.
    has_profile: bool = False
    has_limits: bool = False
    #: Leading comment lines (without ``#``), kept for printing.
    header_comments: tuple[str, ...] = ()
    filename: str = "<program>"
    slots: dict[str, int] = field(default_factory=dict, compare=False)
    #: Comment-only lines (without ``#``) after the last step, kept for printing.
    trailing_comments: tuple[str, ...] = ()


def variable_slots(steps: tuple[Step, ...]) -> dict[str, int]:
    """Number the variables in order of binding."""
    slots: dict[str, int] = {}
    for step in steps:
        if step.bind is not None and step.bind not in slots:
            slots[step.bind] = len(slots)
    return slots


def lower(program: Program) -> array[int]:
    """Lower a program to the flat integer form that engines execute."""
    slots = variable_slots(program.steps)
    out = array("q", [len(slots)])
    for step in program.steps:
        tk, tv = TARGET_NONE, 0
        t = step.target
        if isinstance(t, Var):
            tk, tv = TARGET_SLOT, slots[t.name]
        elif isinstance(t, Raw):
            tk, tv = TARGET_RAW, t.value
        elif isinstance(t, Invalid):
            tk, tv = TARGET_INVALID, INVALID_DESCRIPTOR
        args = list(step.args)
        if step.op == Op.CONNECT and not args:
            args = [-1]
        args += [0] * (3 - len(args))
        out.extend(
            (
                int(step.op),
                -1 if step.thread is None else step.thread,
                -1 if step.bind is None else slots[step.bind],
                tk,
                tv,
                *args,
            )
        )
    return out
