"""The Winsock calls of SEMANTICS.md section 5 (closesocket and cleanup are in
``close``).  Each handler receives the world, the calling thread and its
arguments after the common checks have passed, and returns its result.

Results are ``harness.vocab.trace`` tuples: ``(rkind, r1, r2, r3)``.
"""

from __future__ import annotations

from harness.reference import effects
from harness.reference.close import make_abortive
from harness.reference.results import BLOCKED, fail, ok
from harness.reference.world import Entry, Operation, Peer, Registration, Socket, Thread, World
from harness.vocab import trace
from harness.vocab.constants import (
    FD_CLOSE,
    FD_READ,
    FD_WRITE,
    SD_BOTH,
    SD_RECEIVE,
    SD_SEND,
    WSA_IO_PENDING,
    WSAEADDRINUSE,
    WSAECONNRESET,
    WSAEINTR,
    WSAEINVAL,
    WSAEISCONN,
    WSAEMFILE,
    WSAENOBUFS,
    WSAENOPROTOOPT,
    WSAENOTCONN,
    WSAEOPNOTSUPP,
    WSAESHUTDOWN,
    WSAEWOULDBLOCK,
    WSANOTINITIALISED,
    WSAVERNOTSUPPORTED,
    Mode,
    Note,
    OpKind,
    SockType,
)
from harness.vocab.profiles import (
    CancelBlocking,
    FdCloseTiming,
    LingerOption,
    PortSpace,
    RecvAfterShutdown,
    ResetReporting,
    ShutdownUnconnected,
)

Result = trace.Result


# --- 5.1 lifecycle and options --------------------------------------------------


def startup(w: World, t: Thread, major: int, minor: int) -> Result:
    if major == 0:
        w.apply("SU-1")  # returned directly; last_error untouched [ev A6]
        return (trace.R_DIRECT, WSAVERNOTSUPPORTED, 0, 0)
    proc = w.processes[t.process]
    proc.startup_count += 1
    proc.version = 1 if major == 1 else 2
    return ok(w, t, 0, "SU-2")


def socket(w: World, t: Thread, type_: int) -> tuple[Result, int]:
    if w.table_full(t.process):
        return fail(w, t, WSAEMFILE, "SO-1", trace.R_INVALID_SOCKET), -1
    if w.live_sockets() >= w.limits.sockets:
        return fail(w, t, WSAENOBUFS, "SO-2", trace.R_INVALID_SOCKET), -1
    sock = w.new_socket(SockType(type_))
    entry = w.add_entry(t.process, sock.id)
    return ok(w, t, entry.value, "SO-3"), entry.value


def bind(w: World, t: Thread, sock: Socket, port: int) -> Result:
    if sock.port or sock.connected:
        return fail(w, t, WSAEINVAL, "BI-1")
    holders = w.port_holders(port)  # the non-destroyed sockets holding PORT
    if w.profile.port_space == PortSpace.PER_TYPE and holders:
        if any(s.type != sock.type for s in holders):
            w.apply("PF-8")  # only sockets of the caller's type hold the port
        holders = [s for s in holders if s.type == sock.type]
    if holders:
        return fail(w, t, WSAEADDRINUSE, "BI-2")
    sock.port = port
    w.note_port(sock)
    return ok(w, t, 0, "BI-3")


def connect(w: World, t: Thread, sock: Socket, window: int) -> tuple[Result, int]:
    if sock.type == SockType.DGRAM:
        return fail(w, t, WSAEOPNOTSUPP, "CN-1"), 0
    if sock.connected:
        return fail(w, t, WSAEISCONN, "CN-2"), 0
    w.peers[sock.id] = Peer(sock.id, w.limits.window if window < 0 else window)
    sock.connected = True
    result = ok(w, t, 0, "CN-3")
    w.post(sock, FD_WRITE)
    return result, sock.id


def _refuses_linger(w: World, sock: Socket, get: bool = False) -> bool:
    """OPT-1: datagram sockets refuse the linger options, except under linger_option
    bsd (PF-3a) and wine, which refuses getsockopt only (PF-3b)."""
    if sock.type != SockType.DGRAM:
        return False
    option = w.profile.linger_option
    if option == LingerOption.WINSOCK:
        return True
    if get and option == LingerOption.WINE:
        w.apply("PF-3b")
        return True
    w.apply("PF-3a")
    return False


def _bsd_linger(w: World, sock: Socket, onoff: int, secs: int) -> None:
    """PF-3a: l_onoff stored as 0 or 1; l_onoff = 0 keeps l_linger."""
    w.apply("PF-3a")
    if onoff:
        sock.linger_onoff, sock.linger_secs = 1, secs
    else:
        sock.linger_onoff = 0


def setsockopt_linger(w: World, t: Thread, sock: Socket, onoff: int, secs: int) -> Result:
    if _refuses_linger(w, sock):
        return fail(w, t, WSAENOPROTOOPT, "OPT-1")
    if w.profile.linger_option == LingerOption.WINSOCK:
        sock.linger_onoff, sock.linger_secs = onoff, secs
    else:
        _bsd_linger(w, sock, onoff, secs)
    return ok(w, t, 0, "OPT-2")


def setsockopt_dontlinger(w: World, t: Thread, sock: Socket, value: int) -> Result:
    if _refuses_linger(w, sock):
        return fail(w, t, WSAENOPROTOOPT, "OPT-1")
    if w.profile.linger_option == LingerOption.WINE:
        w.apply("PF-3b")  # SO_LINGER {V == 0, 0} under the bsd rule
        _bsd_linger(w, sock, 0 if value else 1, 0)
    else:
        sock.linger_onoff = 0 if value else 1
    return ok(w, t, 0, "OPT-3")


def getsockopt_linger(w: World, t: Thread, sock: Socket) -> Result:
    if _refuses_linger(w, sock, get=True):
        return fail(w, t, WSAENOPROTOOPT, "OPT-1")
    ok(w, t, 0, "OPT-4")
    return (trace.R_LINGER, sock.linger_onoff, sock.linger_secs, 0)


def getsockopt_dontlinger(w: World, t: Thread, sock: Socket) -> Result:
    if _refuses_linger(w, sock, get=True):
        return fail(w, t, WSAENOPROTOOPT, "OPT-1")
    ok(w, t, 0, "OPT-5")
    return (trace.R_DONTLINGER, 1 if sock.linger_onoff == 0 else 0, 0, 0)


def ioctlsocket_fionbio(w: World, t: Thread, sock: Socket, value: int) -> Result:
    if value == 0 and sock.registration is not None:
        return fail(w, t, WSAEINVAL, "NB-1")
    sock.nonblocking = value != 0
    return ok(w, t, 0, "NB-2")


def shutdown(w: World, t: Thread, sock: Socket, how: int) -> Result:
    if how not in (SD_RECEIVE, SD_SEND, SD_BOTH):
        return fail(w, t, WSAEINVAL, "SD-1")
    if not sock.connected:
        if w.profile.shutdown_unconnected == ShutdownUnconnected.RECORDS:
            w.apply("PF-10")  # recorded, though it fails; no FIN follows from it
            _shut(sock, how)
            sock.fin_held = sock.fin_held or how != SD_RECEIVE
        return fail(w, t, WSAENOTCONN, "SD-2")
    if sock.reset and w.profile.reset_reporting == ResetReporting.ONCE:
        return fail(w, t, WSAENOTCONN, "PF-5c")
    _shut(sock, how)
    if how != SD_RECEIVE and sock.fin_held:
        w.apply("PF-10")  # the FIN is due now
        sock.fin_held = False
    return ok(w, t, 0, "SD-3")


def _shut(sock: Socket, how: int) -> None:
    if how in (SD_RECEIVE, SD_BOTH):
        sock.sd_recv = True
    if how in (SD_SEND, SD_BOTH):
        sock.sd_send = True


def asyncselect(w: World, t: Thread, entry: Entry, sock: Socket, mask: int) -> Result:
    w.apply("AS-1")
    sock.nonblocking = True
    if mask == 0:
        sock.registration = None
        return ok(w, t, 0, "AS-1")
    sock.registration = Registration(entry.process, entry.value, mask)
    result = ok(w, t, 0, "AS-2")
    w.apply("AS-3")
    if sock.recv_queue > 0:
        w.post(sock, FD_READ)
    if sock.connected and not sock.reset and w.space(sock) > 0:
        w.post(sock, FD_WRITE)
    if sock.close_seen:
        immediate = w.profile.fd_close_timing != FdCloseTiming.AFTER_DATA
        if sock.close_error or immediate or sock.recv_queue == 0:
            sock.close_posted = True
            w.post(sock, FD_CLOSE)
        else:
            w.apply("MS-2")
    return result


def duplicate(w: World, t: Thread, sock: Socket, pid: int) -> tuple[Result, int]:
    bad = trace.R_INVALID_SOCKET
    if pid not in (0, 1):
        return fail(w, t, WSAEINVAL, "DU-1", bad), -1
    if w.processes[pid].startup_count == 0:
        if w.profile.startup_required:
            return fail(w, t, WSANOTINITIALISED, "DU-2", bad), -1
        w.apply("PF-1")
    if w.table_full(pid):
        return fail(w, t, WSAEMFILE, "DU-3", bad), -1
    entry = w.add_entry(pid, sock.id)
    sock.refs += 1
    return ok(w, t, entry.value, "DU-4"), entry.value


def cancelblocking(w: World, t: Thread) -> Result:

    if w.profile.cancelblocking == CancelBlocking.STUB:
        w.apply("PF-15")  # no check, no effect, last_error untouched
        return (trace.R_VALUE, 0, 0, 0)
    if w.processes[t.process].version != 1:
        return fail(w, t, WSAEOPNOTSUPP, "CB-1")
    if not t.blocked_in:
        return fail(w, t, WSAEINVAL, "CB-2")
    result = ok(w, t, 0, "CB-3")
    op = w.ops[t.blocked_in]
    if op.kind == OpKind.LINGER_CLOSE:
        make_abortive(w, w.sockets[op.socket], "CB-3")
    effects.complete(w, op, 0, WSAEINTR, "CB-3")
    return result


def getlasterror(w: World, t: Thread) -> Result:
    w.apply("LE-1")
    return (trace.R_LASTERROR, t.last_error, 0, 0)


def getmessage(w: World, t: Thread) -> Result:
    w.apply("GM-1")
    queue = w.processes[t.process].messages
    if not queue:
        return (trace.R_NONE, 0, 0, 0)
    fd, value, err = queue.popleft()
    return (trace.R_MESSAGE, fd, value, err)


def sleepex(w: World, t: Thread) -> Result:
    w.apply("SX-1")
    ran = t.routines
    t.routines = []
    for op_id in ran:
        w.ops[op_id].note = Note.ROUTINE_RAN
        w.emit((trace.E_ROUTINE_RAN, op_id, t.index, 0, 0), "SX-1")
    return (trace.R_VALUE, len(ran), 0, 0)


# --- 5.2 data transfer -------------------------------------------------------------


def transfer_checks(w: World, t: Thread, sock: Socket, sending: bool) -> Result | None:
    """Checks 1-3 of section 5.2, after the common rules.  A receive that passes
    them on a reset socket (reset_reporting once/eof, reset_keeps_received) goes
    on to read what is queued, then end of file (:func:`at_eof`)."""
    if sock.type == SockType.DGRAM or not sock.connected:
        return fail(w, t, WSAENOTCONN, "TX-1")
    if sock.reset and (err := _reset_check(w, t, sock, sending)) is not None:
        return err
    if sending and sock.sd_send:
        return fail(w, t, WSAESHUTDOWN, "TX-3")
    if not sending and sock.sd_recv:
        if w.profile.recv_after_shutdown != RecvAfterShutdown.DRAIN:
            return fail(w, t, WSAESHUTDOWN, "TX-3")
        w.apply("PF-9")  # queued data, then 0
    return None


def _reset_check(w: World, t: Thread, sock: Socket, sending: bool) -> Result | None:
    """Check 2 (TX-2) under reset_reporting and reset_keeps_received."""
    reporting = w.profile.reset_reporting
    if not sending and w.profile.reset_keeps_received and sock.recv_queue > 0:
        w.apply("PF-6")  # data that arrived before the reset is read first
        return None
    if reporting == ResetReporting.ONCE:
        if not sock.reset_reported:
            return fail(w, t, effects.first_reset_report(sock), "PF-5a")
        if sending:
            return fail(w, t, WSAESHUTDOWN, "PF-5a")
        w.apply("PF-5a")  # reported: the receive reads end of file
        return None
    if reporting == ResetReporting.EOF and not sending:
        w.apply("PF-5e")
        return None
    return fail(w, t, WSAECONNRESET, "TX-2")


def at_eof(sock: Socket) -> bool:
    """Nothing more will arrive: FIN, a reset that reads as end of file, or
    (recv_after_shutdown = drain) SD_RECEIVE.  Only receives that passed the
    checks get here, so a reset or SD_RECEIVE socket here reads as FIN."""
    return sock.peer_fin or sock.reset or sock.sd_recv


def _queue(sock: Socket, k: int) -> None:
    sock.send_queue += k
    sock.accepted += k


def send(w: World, t: Thread, entry: Entry, sock: Socket, n: int) -> Result:
    if (err := transfer_checks(w, t, sock, sending=True)) is not None:
        return err
    if n == 0:
        return ok(w, t, 0, "TX-4")
    space, waiting = w.space(sock), bool(w.waiting_sends(sock))
    if not waiting and space >= n:
        _queue(sock, n)
        return ok(w, t, n, "SEND-1")
    if sock.nonblocking:
        k = 0 if waiting else min(n, space)
        if k > 0:
            _queue(sock, k)
            return ok(w, t, k, "SEND-2")
        sock.write_blocked = True
        return fail(w, t, WSAEWOULDBLOCK, "SEND-2")
    k = 0 if waiting else min(n, space)
    _queue(sock, k)
    op = w.new_op(OpKind.SEND, t.index, entry, sock, n, Mode.BLOCKING)
    op.done_bytes = k
    t.blocked_in = op.id
    w.apply("SEND-3")
    return BLOCKED


def wsasend(
    w: World, t: Thread, entry: Entry, sock: Socket, n: int, mode: int
) -> tuple[Result, int]:
    if (err := transfer_checks(w, t, sock, sending=True)) is not None:
        return err, 0
    op = w.new_op(OpKind.WSASEND, t.index, entry, sock, n, Mode(mode))
    if n == 0:
        result = ok(w, t, 0, "TX-4")
        effects.complete(w, op, 0, 0, "TX-4")
        return result, op.id
    space, waiting = w.space(sock), _others(w, sock, op)
    if not waiting and space >= n:
        _queue(sock, n)
        result = ok(w, t, 0, "WSEND-1")
        effects.complete(w, op, n, 0, "WSEND-1")
        return result, op.id
    k = 0 if waiting else min(n, space)
    _queue(sock, k)
    op.done_bytes = k
    return fail(w, t, WSA_IO_PENDING, "WSEND-2"), op.id


def _others(w: World, sock: Socket, op: Operation) -> bool:
    """Is a send other than ``op`` waiting on ``sock``?"""
    return any(o.id != op.id for o in w.waiting_sends(sock))


def _take(w: World, sock: Socket, n: int) -> int:
    k = min(n, sock.recv_queue)
    sock.recv_queue -= k
    return k


def _after_take(w: World, sock: Socket) -> None:
    if sock.recv_queue > 0:
        w.post(sock, FD_READ)
    effects.after_receive(w, sock)


def recv(w: World, t: Thread, entry: Entry, sock: Socket, n: int) -> Result:
    if (err := transfer_checks(w, t, sock, sending=False)) is not None:
        return err
    if n == 0:
        return ok(w, t, 0, "TX-4")
    if sock.recv_queue > 0:
        k = _take(w, sock, n)
        result = ok(w, t, k, "RECV-1")
        _after_take(w, sock)
        return result
    if at_eof(sock):
        return ok(w, t, 0, "RECV-2")
    if sock.nonblocking:
        return fail(w, t, WSAEWOULDBLOCK, "RECV-3")
    op = w.new_op(OpKind.RECV, t.index, entry, sock, n, Mode.BLOCKING)
    t.blocked_in = op.id
    w.apply("RECV-4")
    return BLOCKED


def wsarecv(
    w: World, t: Thread, entry: Entry, sock: Socket, n: int, mode: int
) -> tuple[Result, int]:
    if (err := transfer_checks(w, t, sock, sending=False)) is not None:
        return err, 0
    op = w.new_op(OpKind.WSARECV, t.index, entry, sock, n, Mode(mode))
    if n == 0:
        result = ok(w, t, 0, "TX-4")
        effects.complete(w, op, 0, 0, "TX-4")
        return result, op.id
    if sock.recv_queue > 0 or at_eof(sock):
        k = _take(w, sock, n)
        result = ok(w, t, 0, "WRECV-1")
        effects.complete(w, op, k, 0, "WRECV-1")  # decision D14: completion, then messages
        _after_take(w, sock)
        return result, op.id
    return fail(w, t, WSA_IO_PENDING, "WRECV-2"), op.id
