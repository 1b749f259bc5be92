"""The reference model's state (SEMANTICS.md section 1) and its bookkeeping.

Theory of operation
-------------------
A :class:`World` holds the clock, the network, two processes with their
descriptor tables and message queues, four threads, and every socket, peer
and operation ever created.  Nothing is ever deleted: destroyed sockets and
finished operations stay for the snapshot.

The transition rules live in the sibling modules, one concern each:

* ``effects``: completions, cancellation, resets, destroy and settling
  (sections 6, 7 and CS-D);
* ``calls``: the Winsock calls (section 5);
* ``close``: ``closesocket`` and ``cleanup`` (sections 8 and 5.1);
* ``environment``: environment steps and observations (section 7).

Every rule that fires is recorded with :meth:`World.apply`, and every event
with :meth:`World.emit` together with the rule that produced it, so a step can
be explained rule by rule.

Indexes
-------
Since nothing is deleted, a rule that looked for what it needs by scanning
every socket or operation ever made would cost more with every step a world
has taken.  So beside the plain state the world keeps a few *indexes*, each
derived from that state and stating the invariant that ties it to it, and
each updated at the few places that change what it is derived from:

* ``Process.free`` and ``Process.fresh``: the free descriptor values (the
  lowest free value, section 1);
* ``World.live``: how many sockets are not destroyed (SO-2, invariant 5);
* ``World.ports``: which non-destroyed sockets hold each port (BI-2);
* ``World.pending``: each socket's pending operations, in id order;
* ``World.holders``: each socket's operations with ``holds`` (PF-12);
* ``World.lingering``: the sockets with a linger deadline (CS-9e);
* ``World.unsettled``: the sockets settling has work on (section 6).

An index only says where to look: the rules then decide by the plain state,
as before.  ``snapshot.index_errors`` recomputes every index from the plain
state, and ``Engine.check_invariants`` reports any difference, so a rule that
changes the state without its index fails the tests that check the
invariants after every step.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from heapq import heappop, heappush

from harness.vocab import trace
from harness.vocab.constants import (
    FD_CLOSE,
    FD_READ,
    THREAD_PROCESS,
    WSAECONNRESET,
    Lifecycle,
    Mode,
    Note,
    OpKind,
    SockType,
    Status,
)
from harness.vocab.errors import WorkLimitExceeded
from harness.vocab.profiles import Limits, Profile


@dataclass
class Entry:
    """A descriptor table entry.  ``serial`` gives it an identity of its own,
    so an operation remembers the entry it was issued through even after the
    value is reused (SEMANTICS.md section 10, cancellation by entry)."""

    process: int
    value: int
    socket: int
    serial: int


@dataclass
class Process:
    startup_count: int = 0
    version: int = 0
    table: dict[int, Entry] = field(default_factory=dict)
    messages: deque[tuple[int, int, int]] = field(default_factory=deque)
    # index of the free values (World.lowest_free_value), not state: every
    # multiple of 4 from 4 up to ``fresh`` (excluded) is either in ``table`` or
    # in ``free``, once; ``fresh`` and above were never used.  ``free`` is a
    # heap, so ``free[0]`` is its lowest value.
    free: list[int] = field(default_factory=list)
    fresh: int = 4


@dataclass
class Thread:
    index: int
    last_error: int = 0
    blocked_in: int = 0  # operation id, 0 = not blocked
    routines: list[int] = field(default_factory=list)

    @property
    def process(self) -> int:
        return THREAD_PROCESS[self.index]


@dataclass
class Registration:
    process: int
    value: int
    mask: int


@dataclass
class Socket:
    id: int
    type: SockType
    refs: int = 1
    port: int = 0
    linger_onoff: int = 0
    linger_secs: int = 0
    nonblocking: bool = False
    connected: bool = False
    sd_send: bool = False
    sd_recv: bool = False
    fin_sent: bool = False
    peer_fin: bool = False
    reset: bool = False
    send_queue: int = 0
    recv_queue: int = 0
    write_blocked: bool = False
    registration: Registration | None = None
    close_seen: bool = False
    close_error: int = 0
    close_posted: bool = False
    linger_deadline: int | None = None
    lifecycle: Lifecycle = Lifecycle.OPEN
    accepted: int = 0
    delivered: int = 0
    discarded: int = 0
    #: reset_reporting = once: the reset has been reported to a call (PF-5a)
    reset_reported: bool = False
    #: shutdown_unconnected = records: SD_SEND recorded, no FIN from it yet (PF-10)
    fin_held: bool = False

    @property
    def stream(self) -> bool:
        return self.type == SockType.STREAM


@dataclass
class Peer:
    id: int
    window: int
    buffered: int = 0
    fin: bool = False
    reset: bool = False
    closed: bool = False
    reset_code: int = WSAECONNRESET
    read: int = 0
    dropped: int = 0
    #: reset_reporting = once: the reset has been reported to a peer step (PF-5d)
    reset_reported: bool = False


@dataclass
class Operation:
    id: int
    kind: OpKind
    thread: int
    entry: Entry
    socket: int
    n: int
    mode: Mode
    done_bytes: int = 0
    status: Status = Status.PENDING
    error: int = 0
    note: Note = Note.NONE
    #: cancel_scope = none: this blocked call holds a reference (PF-12a)
    holds: bool = False

    @property
    def overlapped(self) -> bool:
        return self.mode != Mode.BLOCKING

    @property
    def is_send(self) -> bool:
        return self.kind in (OpKind.SEND, OpKind.WSASEND)

    @property
    def is_recv(self) -> bool:
        return self.kind in (OpKind.RECV, OpKind.WSARECV)


class World:
    """All state, plus the per-step record of events and rules."""

    def __init__(self, profile: Profile, limits: Limits) -> None:
        self.profile = profile
        self.limits = limits
        self.clock = 0
        self.network_up = True
        self.processes = (Process(), Process())
        self.threads = tuple(Thread(i) for i in range(4))
        self.sockets: dict[int, Socket] = {}
        self.peers: dict[int, Peer] = {}
        self.ops: dict[int, Operation] = {}
        self._serial = 0
        # --- indexes (see the module docstring; snapshot.index_errors checks them)
        #: the number of sockets not destroyed: +1 at new_socket, -1 at CS-D
        self.live = 0
        #: port -> the ids of the sockets not destroyed whose ``port`` it is:
        #: note_port at BI-3, forget_port at CS-9 (which clears the port) and CS-D
        self.ports: dict[int, set[int]] = {}
        #: socket id -> its operations with status pending, by id in ascending id
        #: (insertion order): added by new_op, removed by op_ended when the status
        #: changes; a socket with none has no key
        self.pending: dict[int, dict[int, Operation]] = {}
        #: socket id -> the ids of its operations with ``holds`` (PF-12a): added at
        #: CS-7 (close.release), removed at PF-12b (settle); a socket with none has no key
        self.holders: dict[int, set[int]] = {}
        #: the ids of the sockets whose linger_deadline is not None (CS-9e): added
        #: where the deadline is set, removed where it is cleared (CS-D, PF-4b)
        self.lingering: set[int] = set()
        #: the ids of the sockets settling has work on: after every step, exactly
        #: those for which settle.needs_settling holds.  Only a change to a socket
        #: can give settling work on it, and the changes that can are marked with
        #: unsettle(): a call's own socket (engine), the end of an operation
        #: (op_ended), a socket becoming closing (close); settle takes out the
        #: sockets it leaves with nothing to do.
        self.unsettled: set[int] = set()
        # per step
        self.events: list[tuple[trace.Event, str]] = []
        self.applied: list[str] = []
        self.fd_read_posted = False
        # invariant 7 bookkeeping: (process, value) released and not reused
        self.released: set[tuple[int, int]] = set()
        self.violations: list[str] = []
        # Cost accounting (not semantics): sockets settled so far, and the
        # bound a campaign's cost check sets (0: none).
        self.work = 0
        self.work_limit = 0
        self.steps_done = 0

    # --- recording -------------------------------------------------------------

    def begin_step(self, work_per_step: int = 0) -> None:
        self.steps_done += 1
        self.work_limit = work_per_step * self.steps_done
        self.events = []
        self.applied = []
        self.fd_read_posted = False

    def count_work(self) -> None:
        """One socket settled; past the work limit the run stops (a cost finding)."""
        self.work += 1
        if self.work_limit and self.work > self.work_limit:
            raise WorkLimitExceeded(f"over {self.work_limit} sockets settled")

    def apply(self, rule: str) -> None:
        """Record that ``rule`` decided part of this step."""
        self.applied.append(rule)

    def emit(self, event: trace.Event, rule: str) -> None:
        self.events.append((event, rule))

    # --- descriptor tables -----------------------------------------------------

    def lowest_free_value(self, process: int) -> int:
        """The lowest free multiple of 4, starting at 4 [decision; ev B9]: the
        lowest released value not yet reused, else the lowest never used."""
        proc = self.processes[process]
        return proc.free[0] if proc.free else proc.fresh

    def table_full(self, process: int) -> bool:
        return len(self.processes[process].table) >= self.limits.descriptors

    def add_entry(self, process: int, socket: int) -> Entry:
        proc = self.processes[process]
        value = self.lowest_free_value(process)
        if proc.free:
            heappop(proc.free)  # index: the value is no longer free
        else:
            proc.fresh += 4
        self._serial += 1
        entry = Entry(process, value, socket, self._serial)
        proc.table[value] = entry
        self.released.discard((process, value))
        return entry

    def remove_entry(self, entry: Entry) -> None:
        proc = self.processes[entry.process]
        del proc.table[entry.value]
        heappush(proc.free, entry.value)  # index: free at once (section 1)
        self.released.add((entry.process, entry.value))

    # --- sockets ---------------------------------------------------------------

    def new_socket(self, type_: SockType) -> Socket:
        sock = Socket(id=len(self.sockets) + 1, type=type_)
        self.sockets[sock.id] = sock
        self.live += 1  # index
        return sock

    def live_sockets(self) -> int:
        """The sockets not destroyed (SO-2)."""
        return self.live

    def note_port(self, sock: Socket) -> None:
        """Index: ``sock`` holds its port now (BI-3)."""
        self.ports.setdefault(sock.port, set()).add(sock.id)

    def forget_port(self, sock: Socket) -> None:
        """Index: ``sock`` holds its port no longer (released, or destroyed)."""
        holders = self.ports.get(sock.port)
        if holders is not None:
            holders.discard(sock.id)
            if not holders:
                del self.ports[sock.port]

    def port_holders(self, port: int) -> list[Socket]:
        """The sockets not destroyed whose port is ``port``, in ascending id."""
        if port == 0:  # no port (PORT is 1..65535); only a raw step() passes it: not indexed
            return [
                s
                for s in self.sockets.values()
                if s.port == 0 and s.lifecycle != Lifecycle.DESTROYED
            ]
        return [self.sockets[sid] for sid in sorted(self.ports.get(port, ()))]

    def unsettle(self, sock_id: int) -> None:
        """Index: settling may have work on this socket now."""
        self.unsettled.add(sock_id)

    # --- operations ------------------------------------------------------------

    def new_op(
        self, kind: OpKind, thread: int, entry: Entry, sock: Socket, n: int, mode: Mode
    ) -> Operation:
        op = Operation(len(self.ops) + 1, kind, thread, entry, sock.id, n, mode)
        if mode == Mode.EVENT:
            op.note = Note.UNSIGNALED
        elif mode == Mode.ROUTINE:
            op.note = Note.ROUTINE_NONE
        self.ops[op.id] = op
        self.pending.setdefault(sock.id, {})[op.id] = op  # index: a new op is pending
        return op

    def op_ended(self, op: Operation) -> None:
        """Index: ``op``'s status is no longer pending.  Its socket may have
        settling work now (a waiting send or a holder has gone)."""
        ops = self.pending.get(op.socket)
        if ops is not None:
            ops.pop(op.id, None)
            if not ops:
                del self.pending[op.socket]
        self.unsettle(op.socket)

    def note_holder(self, op: Operation) -> None:
        """Index: ``op`` holds its socket now (PF-12a)."""
        self.holders.setdefault(op.socket, set()).add(op.id)

    def forget_holder(self, op: Operation) -> None:
        """Index: ``op`` holds its socket no longer (PF-12b)."""
        holders = self.holders[op.socket]
        holders.discard(op.id)
        if not holders:
            del self.holders[op.socket]

    def pending_on(self, sock: Socket) -> list[Operation]:
        """Pending operations on ``sock``, in ascending id."""
        return list(self.pending.get(sock.id, {}).values())

    def all_pending(self) -> list[Operation]:
        """Every pending operation, in ascending id."""
        return sorted(
            (o for ops in self.pending.values() for o in ops.values()), key=lambda o: o.id
        )

    def waiting_sends(self, sock: Socket) -> list[Operation]:
        return [o for o in self.pending_on(sock) if o.is_send]

    def space(self, sock: Socket) -> int:
        return self.limits.sndbuf - sock.send_queue

    # --- messages (SEMANTICS.md section 9) --------------------------------------

    def post(self, sock: Socket, fd: int) -> None:
        """MS-1: post ``fd`` if a registration exists and its mask has it."""
        reg = sock.registration
        if reg is None or not sock.stream or not reg.mask & fd:
            return
        if fd == FD_READ:
            if self.fd_read_posted:
                return  # MS-1: at most one FD_READ per step
            self.fd_read_posted = True
        error = sock.close_error if fd == FD_CLOSE else 0
        if (reg.process, reg.value) in self.released:
            self.violations.append(f"posted for released p{reg.process} #{reg.value}")
        self.processes[reg.process].messages.append((fd, reg.value, error))
        self.emit((trace.E_POSTED, reg.process, fd, reg.value, error), "MS-1")
