"""Bytes <-> Program: the fuzzer's binary form (PROGRAMS.md "Binary form").

Layout::

    byte 0        header: bits 0-2 the prelude (PRELUDES: mostly both
                  startups and a connected `s1`/`c1`), bits 3-5 limits preset,
                  bits 6-7 a profile (HEADER_PROFILES), used only by campaigns
                  whose sides say ``any`` (:func:`header_profile`)
    then 4 bytes per step: OP, SEL, B, C      (a trailing partial step is ignored)

* **OP** picks a step *variant* from a fixed 256-entry table, weighted toward
  the close path's rare branches (duplicates, linger settings, overlapped
  operations, peer window pressure, time).
* **SEL** picks the thread (low 3 bits) and the target (high 5 bits).  The
  choice reads only the program's own syntactic state: the live ``sN``
  variables, the stale ones (named by an earlier ``closesocket`` line), the
  bound ``cN`` and ``oN``, and which threads may be blocked (their last call
  could block and no environment step has happened since).
* **B, C** are the numeric arguments (:func:`number` for counts and times).

The decoder is total (every byte string gives a valid program) and never runs
a model.  Flipping one byte changes one step (and, through the variables it
binds, what later selections resolve to).  :func:`encode` inverts it for every
program it can represent; the others raise :class:`NotRepresentable`.

**Grammars.**  Every function takes an optional :class:`Grammar`: what the
side that runs the program supports.  ``FULL`` (the default) is the whole
binary form above, and the only one the compiled core's own decoder knows.  A
real engine declares less (harness/conformance/grammar.py builds its grammar
from its ``Capabilities``): then the variant table holds only its steps, SEL
picks only its threads, raw descriptor values and datagram transfers are never
generated, and counts, times and limits stay within what it can run.  A
grammar changes which program the bytes decode to, never the layout.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from harness.lang.program import (
    INVALID_DESCRIPTOR,
    TARGET_INVALID,
    TARGET_NONE,
    TARGET_RAW,
    TARGET_SLOT,
    Invalid,
    Program,
    Raw,
    Step,
    Target,
    Var,
    variable_slots,
)
from harness.vocab.constants import (
    DESCRIPTOR_OPS,
    FD_CLOSE,
    FD_READ,
    FD_WRITE,
    MAX_U31,
    THREAD_PROCESS,
    Mode,
    Op,
    SockType,
)
from harness.vocab.errors import HarnessError
from harness.vocab.profiles import DOCUMENTED, PROFILES, Limits, Profile

#: The prelude a header's bits 0-2 select: most programs start initialised
#: and connected, so random bytes reach the close path instead of stopping at
#: WSANOTINITIALISED.  Index 0 is the full prelude, 7 none.
PRELUDE_RAW: tuple[tuple[Op, int, str | None, str | None, tuple[int, ...]], ...] = (
    (Op.STARTUP, 0, None, None, (2, 2)),
    (Op.STARTUP, 2, None, None, (2, 2)),
    (Op.SOCKET, 0, "s1", None, (SockType.STREAM,)),
    (Op.CONNECT, 0, "c1", "s1", ()),
)
PRELUDES = (4, 4, 4, 4, 4, 2, 1, 0)  # how many of PRELUDE_RAW each header value takes
LIMIT_PRESETS = (
    Limits(),
    Limits(sndbuf=100, window=100),
    Limits(sockets=2, descriptors=2, sndbuf=1, window=1),
    Limits(sockets=4, descriptors=4, sndbuf=1000, window=300),
    Limits(sndbuf=100),
    Limits(sockets=1),
    Limits(descriptors=1),
    Limits(sndbuf=0, window=0),
)
STEP_BYTES = 4

STARTUP_VERSIONS = ((2, 2), (1, 1), (0, 0), (2, 0), (1, 0), (2, 2), (1, 1), (2, 2))
LINGER_ONOFF = (0, 1, 1, 256)
SHUTDOWN_HOW = (0, 1, 2, 3)
MASKS = (0, FD_READ, FD_WRITE, FD_CLOSE, FD_READ | FD_WRITE, FD_READ | FD_CLOSE,
         FD_WRITE | FD_CLOSE, FD_READ | FD_WRITE | FD_CLOSE)  # fmt: skip
PIDS = (0, 1, 1, 2)
RAW_VALUES = (4, 8, 1)  # SEL 28, 29, 30; 31 is INVALID_SOCKET
NUMBER_SPECIAL = (0, 1, 2, 4095, 4096, 8191, 8192, 65536)


class NotRepresentable(HarnessError):
    """The program has a step or header the binary form cannot express."""


# --- numbers -----------------------------------------------------------------------


def number(b: int, c: int) -> int:
    """Two bytes -> a count or time, by the top two bits of ``b``:

    0. exact values 0..16383;
    1. small values 0..255 (again: sizes below the buffers are common);
    2. buffer-edge specials (NUMBER_SPECIAL);
    3. coarse large values (multiples of 64 up to 524224), or values near
       2**31 - 1 when bit 5 is set.
    """
    kind = b >> 6
    if kind == 0:
        return (b & 63) << 8 | c
    if kind == 1:
        return c
    if kind == 2:
        return NUMBER_SPECIAL[c % len(NUMBER_SPECIAL)]
    if b & 32:
        return MAX_U31 - (c % 16)
    return ((b & 31) << 8 | c) * 64


def number_bytes(n: int) -> tuple[int, int]:
    if 0 <= n < 1 << 14:
        return n >> 8, n & 255
    if n % 64 == 0 and n // 64 < 1 << 13:
        v = n // 64
        return 192 | v >> 8, v & 255
    if n in NUMBER_SPECIAL:
        return 128, NUMBER_SPECIAL.index(n)
    if 0 <= MAX_U31 - n < 16:
        return 224, MAX_U31 - n
    raise NotRepresentable(f"number {n} has no binary form")


# --- the variant table ----------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    op: Op
    weight: int
    mode: int = 0  # wsasend/wsarecv mode, socket type


VARIANTS = (
    Variant(Op.STARTUP, 6), Variant(Op.CLEANUP, 4),
    Variant(Op.SOCKET, 10, SockType.STREAM), Variant(Op.SOCKET, 2, SockType.DGRAM),
    Variant(Op.BIND, 3), Variant(Op.CONNECT, 8), Variant(Op.CONNECT, 4, 1),
    Variant(Op.SETSOCKOPT_LINGER, 14), Variant(Op.SETSOCKOPT_DONTLINGER, 4),
    Variant(Op.GETSOCKOPT_LINGER, 2), Variant(Op.GETSOCKOPT_DONTLINGER, 2),
    Variant(Op.IOCTLSOCKET_FIONBIO, 6), Variant(Op.SEND, 14), Variant(Op.RECV, 10),
    Variant(Op.WSASEND, 6, Mode.EVENT), Variant(Op.WSASEND, 5, Mode.ROUTINE),
    Variant(Op.WSARECV, 6, Mode.EVENT), Variant(Op.WSARECV, 5, Mode.ROUTINE),
    Variant(Op.SHUTDOWN, 6), Variant(Op.ASYNCSELECT, 6), Variant(Op.DUPLICATE, 10),
    Variant(Op.CLOSESOCKET, 22), Variant(Op.CANCELBLOCKING, 3), Variant(Op.GETLASTERROR, 3),
    Variant(Op.GETMESSAGE, 4), Variant(Op.SLEEPEX, 3), Variant(Op.ADVANCE, 10),
    Variant(Op.NET_DOWN, 2), Variant(Op.NET_UP, 3), Variant(Op.PEER_RECV, 10),
    Variant(Op.PEER_SEND, 10), Variant(Op.PEER_CLOSE, 4), Variant(Op.PEER_RESET, 3),
    Variant(Op.OVL, 4),
)  # fmt: skip


def _table(variants: tuple[Variant, ...] = VARIANTS) -> tuple[Variant, ...]:
    total = sum(v.weight for v in variants)
    out: list[Variant] = []
    for v in variants:
        out += [v] * (v.weight * 256 // total)
    heaviest = sorted(variants, key=lambda v: -v.weight)
    i = 0
    while len(out) < 256:  # spread the rounding remainder over the heaviest variants
        out.append(heaviest[i % min(8, len(heaviest))])
        i += 1
    return tuple(out)


TABLE = _table()
FIRST_BYTE = {v: TABLE.index(v) for v in VARIANTS}

#: Steps that move data over a connection: never generated on a datagram
#: socket for a side without ``datagram_transfer``.
TRANSFER_OPS = frozenset({Op.CONNECT, Op.SEND, Op.RECV, Op.WSASEND, Op.WSARECV})
_COUNT_OPS = frozenset({Op.SEND, Op.RECV, Op.WSASEND, Op.WSARECV, Op.PEER_RECV, Op.PEER_SEND})


@dataclass(frozen=True)
class Grammar:
    """What a side can run; the decoder generates only that.

    ``FULL`` is the whole binary form.  A narrower grammar keeps the layout
    (header, 4 bytes a step) and changes what the bytes pick:
    - ``ops``: the variant table holds only these steps, with their weights;
    - ``threads``: SEL picks only these threads;
    - ``raw_descriptors`` False: SEL 28-30 (and a descriptor selection with no
      live variable) pick ``INVALID_SOCKET`` instead of a raw value ``#N``;
    - ``datagram_transfer`` False: a transfer step (``TRANSFER_OPS``) on a
      variable bound to a datagram socket (or a duplicate of one) is dropped;
    - ``pids``: the processes ``duplicate`` may target;
    - ``max_count``: counts are taken modulo one more than it (values up to it
      keep their binary form);
    - ``limits``: the presets header bits 3-5 pick from (modulo their number);
    - ``connect_window`` False: no ``connect S window=N``.
    """

    name: str = "full"
    ops: frozenset[Op] = frozenset(Op)
    threads: tuple[int, ...] = (0, 1, 2, 3)
    raw_descriptors: bool = True
    datagram_transfer: bool = True
    pids: tuple[int, ...] = PIDS
    max_count: int | None = None
    limits: tuple[Limits, ...] = LIMIT_PRESETS
    #: ``connect S window=N`` (the connect variant with a window)
    connect_window: bool = True

    def __post_init__(self) -> None:
        if not self.variants:
            raise ValueError(f"grammar {self.name}: no step of the binary form is allowed")
        if not self.threads or not set(self.threads) <= {0, 1, 2, 3}:
            raise ValueError(f"grammar {self.name}: threads must be some of 0-3")
        if not self.pids or not self.limits:
            raise ValueError(f"grammar {self.name}: no pid or no limits preset")

    @cached_property
    def variants(self) -> tuple[Variant, ...]:
        return tuple(
            v
            for v in VARIANTS
            if v.op in self.ops and (self.connect_window or not (v.op == Op.CONNECT and v.mode))
        )

    @cached_property
    def table(self) -> tuple[Variant, ...]:
        return TABLE if self.variants == VARIANTS else _table(self.variants)

    @cached_property
    def first_byte(self) -> dict[Variant, int]:
        return {v: self.table.index(v) for v in self.variants}

    def count(self, n: int) -> int:
        return n if self.max_count is None else n % (self.max_count + 1)

    def preset(self, header: int) -> Limits:
        return self.limits[((header >> 3) & 7) % len(self.limits)]


FULL = Grammar()


_MAY_BLOCK = frozenset({Op.SEND, Op.RECV, Op.CLOSESOCKET})

#: The decoder's own step form, cheaper than :class:`Step`: (op, thread,
#: bound variable, target, args).  A target is a variable name, a raw
#: descriptor value, INVALID, or None.
RawTarget = str | int | None
RawStep = tuple[Op, int | None, str | None, RawTarget, tuple[int, ...]]
INVALID = -1


def to_step(raw: RawStep) -> Step:
    op, thread, bind, target, args = raw
    obj: Target | None
    if isinstance(target, str):
        obj = Var(target)
    elif target is None:
        obj = None
    else:
        obj = Invalid() if target == INVALID else Raw(target)
    return Step(op, thread, bind, obj, args)


def to_raw(step: Step) -> RawStep:
    t = step.target
    target: RawTarget
    if isinstance(t, Var):
        target = t.name
    elif isinstance(t, Raw):
        target = t.value
    else:
        target = INVALID if isinstance(t, Invalid) else None
    return (step.op, step.thread, step.bind, target, step.args)


# --- syntactic state -------------------------------------------------------------------


@dataclass
class _State:
    """What the decoder knows: names bound so far, never any model state."""

    live: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    peers: list[str] = field(default_factory=list)
    ops: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: {"s": 0, "c": 0, "o": 0})
    maybe_blocked: set[int] = field(default_factory=set)
    #: the process a descriptor variable belongs to (syntactically: the
    #: binding thread's, or a duplicate's target process)
    home: dict[str, int] = field(default_factory=dict)
    #: (runnable threads, runnable then maybe-blocked), recomputed when maybe_blocked changes
    order: tuple[list[int], list[int]] = ([0, 1, 2, 3], [0, 1, 2, 3])
    grammar: Grammar = FULL
    #: variables bound to a datagram socket (tracked only when the grammar needs it)
    dgram: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.grammar.threads != FULL.threads:
            self._reorder()

    def fresh(self, letter: str) -> str:
        self.counts[letter] += 1
        return f"{letter}{self.counts[letter]}"

    def _reorder(self) -> None:
        runnable = [t for t in self.grammar.threads if t not in self.maybe_blocked]
        self.order = (runnable, runnable + sorted(self.maybe_blocked))

    def _preferred(self, target: RawTarget) -> list[int]:
        """Runnable threads, those of the target variable's process first."""
        runnable = self.order[0]
        home = self.home.get(target) if isinstance(target, str) else None
        if home is None:
            return runnable
        mine = [t for t in runnable if THREAD_PROCESS[t] == home]
        return mine or runnable

    def thread(self, bits: int, target: RawTarget) -> int:
        """Bits 4-7 pick a runnable thread (of the target's process when it
        has one); bits 0-3 any thread, runnable ones first."""
        preferred = self._preferred(target)
        if bits >= 4 and preferred:
            return preferred[(bits - 4) % len(preferred)]
        everyone = self.order[1]
        return everyone[bits % 4 % len(everyone)]

    def thread_bits(self, t: int, target: RawTarget) -> int:
        if t not in self.grammar.threads:
            raise NotRepresentable(f"thread t{t} is not in grammar {self.grammar.name}")
        preferred = self._preferred(target)
        if t in preferred and preferred.index(t) < 4:
            return 4 + preferred.index(t)
        return self.order[1].index(t)

    def descriptor(self, sel: int) -> RawTarget:
        if sel < 24 and self.live:
            return self.live[sel % len(self.live)]
        if 24 <= sel < 28 and self.stale:
            return self.stale[(sel - 24) % len(self.stale)]
        if sel == 31 or not self.grammar.raw_descriptors:
            return INVALID
        return RAW_VALUES[sel - 28] if sel >= 28 else RAW_VALUES[0]

    def descriptor_sel(self, target: RawTarget) -> int:
        if target == INVALID:
            return 31
        if isinstance(target, int):
            if not self.grammar.raw_descriptors:
                raise NotRepresentable(f"raw descriptor #{target} is not in this grammar")
            if target in RAW_VALUES:
                return 28 + RAW_VALUES.index(target)
            raise NotRepresentable(f"raw descriptor #{target} has no binary form")
        assert isinstance(target, str)
        if target in self.live and self.live.index(target) < 24:
            return self.live.index(target)
        if target in self.stale and self.stale.index(target) < 4:
            return 24 + self.stale.index(target)
        raise NotRepresentable(f"variable {target} is out of the binary form's reach")

    def after(self, step: RawStep) -> None:
        """Update the syntactic state once ``step`` is in the program."""
        op, thread, bind, target, args = step
        if not self.grammar.datagram_transfer and bind is not None:
            if (op == Op.SOCKET and args[0] == SockType.DGRAM) or (
                op == Op.DUPLICATE and target in self.dgram
            ):
                self.dgram.add(bind)
        if bind is not None:
            letter = bind[0]
            self.counts[letter] = max(self.counts[letter], int(bind[1:]))
            names = self.live if letter == "s" else self.peers if letter == "c" else self.ops
            names.append(bind)
            if letter == "s" and thread is not None:
                pid = args[0] if op == Op.DUPLICATE else THREAD_PROCESS[thread]
                self.home[bind] = pid if pid in (0, 1) else THREAD_PROCESS[thread]
        if op == Op.CLOSESOCKET and isinstance(target, str) and target in self.live:
            self.live.remove(target)
            if target not in self.stale:
                self.stale.append(target)
        before = len(self.maybe_blocked)
        if thread is None:
            self.maybe_blocked.clear()
        elif op in _MAY_BLOCK:
            if thread not in self.maybe_blocked:
                self.maybe_blocked.add(thread)
                before = -1
        else:
            self.maybe_blocked.discard(thread)
        if len(self.maybe_blocked) != before:
            self._reorder()


# --- decoding --------------------------------------------------------------------------


def _prelude(header: int, grammar: Grammar = FULL) -> tuple[RawStep, ...]:
    steps = PRELUDE_RAW[: PRELUDES[header & 7]]
    if grammar is FULL:
        return steps
    return tuple(s for s in steps if s[0] in grammar.ops and s[1] in grammar.threads)


def _raw_steps(data: bytes, max_steps: int | None, grammar: Grammar = FULL) -> Iterator[RawStep]:
    """The steps ``data`` decodes to, in the decoder's own form."""
    state = _State(grammar=grammar)
    table = grammar.table
    count = 0
    for raw in _prelude(data[0], grammar):
        state.after(raw)
        count += 1
        yield raw
    limit = max_steps if max_steps is not None else len(data)
    for i in range(1, len(data) - STEP_BYTES + 1, STEP_BYTES):
        if count >= limit:
            break
        op_b, sel, b, c = data[i : i + STEP_BYTES]
        decoded = _decode_step(state, table[op_b], sel, b, c)
        if decoded is not None:
            state.after(decoded)
            count += 1
            yield decoded


#: The profile a header's bits 6-7 name, for campaigns over every profile.
HEADER_PROFILES = ("documented", "windows", "linux", "wine")


def header_profile(data: bytes) -> Profile:
    """The profile the header's bits 6-7 name (``documented`` for no data)."""
    return PROFILES[HEADER_PROFILES[(data[0] >> 6) & 3 if data else 0]]


def decode(
    data: bytes,
    profile: Profile = DOCUMENTED,
    max_steps: int | None = None,
    grammar: Grammar = FULL,
) -> Program:
    """Decode bytes to a program (within ``grammar``).  Total: never raises."""
    if not data:
        return _program((), profile, Limits())
    steps = tuple(to_step(raw) for raw in _raw_steps(data, max_steps, grammar))
    return _program(steps, profile, grammar.preset(data[0]))


def decode_lowered(
    data: bytes, max_steps: int | None = None, grammar: Grammar = FULL
) -> tuple[array[int], Limits]:
    """``lower(decode(data))`` and the limits, without building the Program
    (the fuzz target's hot path).  Tests check it equals the long way."""
    if not data:
        return array("q", [0]), Limits()
    slots: dict[str, int] = {}
    out = array("q", [0])
    for op, thread, bind, target, args in _raw_steps(data, max_steps, grammar):
        tk, tv = TARGET_NONE, 0
        if isinstance(target, str):
            tk, tv = TARGET_SLOT, slots[target]
        elif target is not None:
            tk, tv = (
                (TARGET_INVALID, INVALID_DESCRIPTOR) if target == INVALID else (TARGET_RAW, target)
            )
        slot = -1
        if bind is not None:
            slot = slots[bind] = len(slots)
        x = (-1,) if op == Op.CONNECT and not args else args
        out.extend((op, -1 if thread is None else thread, slot, tk, tv, *x, *_PAD[len(x) :]))
    out[0] = len(slots)
    return out, grammar.preset(data[0])


_PAD = (0, 0, 0)


def _program(steps: tuple[Step, ...], profile: Profile, limits: Limits) -> Program:
    return Program(
        steps,
        profile,
        limits,
        has_profile=True,
        has_limits=limits != Limits(),
        slots=variable_slots(steps),
    )


def _decode_step(state: _State, v: Variant, sel: int, b: int, c: int) -> RawStep | None:
    op = v.op
    g = state.grammar
    if op == Op.OVL:
        return (op, None, None, state.ops[sel % len(state.ops)], ()) if state.ops else None
    if op in (Op.PEER_RECV, Op.PEER_SEND, Op.PEER_CLOSE, Op.PEER_RESET):
        if not state.peers:
            return None
        counts = (g.count(number(b, c)),) if op in (Op.PEER_RECV, Op.PEER_SEND) else ()
        return (op, None, None, state.peers[sel % len(state.peers)], counts)
    if op == Op.ADVANCE:
        return (op, None, None, None, (number(b, c),))
    if op in (Op.NET_DOWN, Op.NET_UP):
        return (op, None, None, None, ())
    target = state.descriptor(sel >> 3) if op in DESCRIPTOR_OPS else None
    if state.dgram and op in TRANSFER_OPS and target in state.dgram:
        return None  # a datagram transfer the side cannot run
    thread = state.thread(sel & 7, target)
    if op == Op.STARTUP:
        return (op, thread, None, None, STARTUP_VERSIONS[b & 7])
    if op in (Op.CLEANUP, Op.CANCELBLOCKING, Op.GETLASTERROR, Op.GETMESSAGE, Op.SLEEPEX):
        return (op, thread, None, None, ())
    if op == Op.SOCKET:
        return (op, thread, state.fresh("s"), None, (v.mode,))
    args: tuple[int, ...]
    bind = None
    if op == Op.CONNECT:
        args = (number(b, c),) if v.mode else ()
        bind = state.fresh("c")
    elif op in (Op.WSASEND, Op.WSARECV):
        args = (g.count(number(b, c)), v.mode)
        bind = state.fresh("o")
    elif op == Op.DUPLICATE:
        args = (g.pids[(b & 3) % len(g.pids)],)
        bind = state.fresh("s")
    else:
        args = _plain_args(op, b, c)
        if op in _COUNT_OPS:
            args = (g.count(args[0]),)
    return (op, thread, bind, target, args)


def _plain_args(op: Op, b: int, c: int) -> tuple[int, ...]:
    if op == Op.BIND:
        return (1 + b % 4,)
    if op == Op.SETSOCKOPT_LINGER:
        return (LINGER_ONOFF[b & 3], c if c < 255 else 65535)
    if op in (Op.SETSOCKOPT_DONTLINGER, Op.IOCTLSOCKET_FIONBIO):
        return (b,)
    if op in (Op.SEND, Op.RECV):
        return (number(b, c),)
    if op == Op.SHUTDOWN:
        return (SHUTDOWN_HOW[b & 3],)
    if op == Op.ASYNCSELECT:
        return (MASKS[b & 7],)
    return ()  # closesocket, getsockopt


# --- encoding ----------------------------------------------------------------------------


def encode(program: Program, grammar: Grammar = FULL) -> bytes:
    """The bytes that decode to ``program`` under ``grammar`` (up to comments
    and expectations).

    Variables must be numbered in binding order per letter (s1, s2, ...), as
    the decoder numbers them.  Raises NotRepresentable otherwise, and for a
    step the grammar does not generate.
    """
    if program.limits not in grammar.limits:
        raise NotRepresentable(f"limits {program.limits} are not a binary-form preset")
    steps = [to_raw(step) for step in program.steps]
    header = grammar.limits.index(program.limits) << 3
    header |= next(i for i in range(len(PRELUDES)) if _starts_with(steps, _prelude(i, grammar)))
    if program.profile.name in HEADER_PROFILES:
        header |= HEADER_PROFILES.index(program.profile.name) << 6
    state = _State(grammar=grammar)
    out = bytearray([header])
    prelude = _prelude(header, grammar)
    for raw in prelude:
        state.after(raw)
    for raw in steps[len(prelude) :]:
        out += _encode_step(state, raw)
        state.after(raw)
    return bytes(out)


def _starts_with(steps: list[RawStep], prefix: tuple[RawStep, ...]) -> bool:
    return len(steps) >= len(prefix) and all(a == b for a, b in zip(steps, prefix, strict=False))


def _variant(op: Op, mode: int = 0, grammar: Grammar = FULL) -> int:
    for v, first in grammar.first_byte.items():
        if v.op == op and v.mode == mode:
            return first
    where = "" if grammar is FULL else f" in grammar {grammar.name}"
    raise NotRepresentable(f"step {op.name} has no binary form{where}")


def _within(value: int, limit: int | None, what: str) -> tuple[int, int]:
    """The two bytes of a count or time taken modulo ``limit + 1``."""
    if limit is not None and value > limit:
        raise NotRepresentable(f"{what} {value} is above this grammar's {limit}")
    if limit is not None and not (0 <= value < 1 << 14):
        for k in range(16):  # the values near 2**31 - 1, wrapped
            if (MAX_U31 - k) % (limit + 1) == value:
                return 224, k
    return number_bytes(value)


def _index(table: tuple[object, ...], value: object, what: str) -> int:
    if value not in table:
        raise NotRepresentable(f"{what} {value} has no binary form")
    return table.index(value)


def _encode_step(state: _State, raw: RawStep) -> bytes:
    op, thread, bind, target, args = raw
    g = state.grammar
    if bind is not None and bind != f"{bind[0]}{state.counts[bind[0]] + 1}":
        raise NotRepresentable(f"variable {bind} is not numbered in binding order")
    if op == Op.OVL or op in (Op.PEER_RECV, Op.PEER_SEND, Op.PEER_CLOSE, Op.PEER_RESET):
        names = state.ops if op == Op.OVL else state.peers
        assert isinstance(target, str)
        b, c = _within(args[0], g.max_count, "count") if args else (0, 0)
        return bytes([_variant(op, 0, g), names.index(target), b, c])
    if op == Op.ADVANCE:
        return bytes([_variant(op, 0, g), 0, *number_bytes(args[0])])
    if op in (Op.NET_DOWN, Op.NET_UP):
        return bytes([_variant(op, 0, g), 0, 0, 0])
    assert thread is not None
    if state.dgram and op in TRANSFER_OPS and target in state.dgram:
        raise NotRepresentable(f"{op.name} on datagram socket {target} is not in this grammar")
    sel_thread = state.thread_bits(thread, target)
    mode, b, c = 0, 0, 0
    sel_target = 0
    if target is not None:
        sel_target = state.descriptor_sel(target)
    if op == Op.STARTUP:
        b = _index(STARTUP_VERSIONS, args, "version")
    elif op == Op.SOCKET:
        mode = args[0]
    elif op == Op.CONNECT:
        mode = 1 if args else 0
        if args:
            b, c = number_bytes(args[0])
    elif op in (Op.WSASEND, Op.WSARECV):
        mode = args[1]
        b, c = _within(args[0], g.max_count, "count")
    elif op == Op.DUPLICATE:
        b = _index(g.pids, args[0], "pid")
    elif op == Op.BIND:
        if not 1 <= args[0] <= 4:
            raise NotRepresentable(f"port {args[0]} has no binary form")
        b = args[0] - 1
    elif op == Op.SETSOCKOPT_LINGER:
        b = _index(LINGER_ONOFF, args[0], "l_onoff")
        secs = args[1]
        if not (secs < 255 or secs == 65535):
            raise NotRepresentable(f"linger {secs} has no binary form")
        c = min(secs, 255)
    elif op in (Op.SETSOCKOPT_DONTLINGER, Op.IOCTLSOCKET_FIONBIO):
        if args[0] > 255:
            raise NotRepresentable(f"value {args[0]} has no binary form")
        b = args[0]
    elif op in (Op.SEND, Op.RECV):
        b, c = _within(args[0], g.max_count, "count")
    elif op == Op.SHUTDOWN:
        b = _index(SHUTDOWN_HOW, args[0], "how")
    elif op == Op.ASYNCSELECT:
        b = _index(MASKS, args[0], "mask")
    return bytes([_variant(op, mode, g), sel_target << 3 | sel_thread, b, c])
