"""Settling (SEMANTICS.md section 6): after every step, and as virtual time
passes, each connected socket moves to its fixpoint: delivery into the peer's
window, waiting sends refilling the queue, FD_WRITE, FIN, destruction of a
closing socket whose FIN went out (steps 1-5), finished holders dropping their
references first (step 0, PF-12b), and then the linger deadlines that have
passed (CS-9e).

Section 6 visits every socket, in ascending id.  On most of them no step can
act (they are destroyed, unconnected, or quiet: see :func:`needs_settling`),
so settling visits only the sockets of the index ``World.unsettled``, which
holds every socket it has work on, in the same ascending order; the others
would be passed over anyway.  Settling a socket changes no other socket, so
the order of effects is the same.
"""

from __future__ import annotations

from harness.reference import effects
from harness.reference.close import close_without_caller
from harness.reference.world import Socket, World
from harness.vocab.constants import FD_WRITE, WSAECONNRESET, Lifecycle, Status
from harness.vocab.profiles import LingerClose


def settle(w: World) -> None:
    """Section 6, after a step: each socket with work to its fixpoint, then the
    linger deadlines."""
    for sid in sorted(w.unsettled):  # ascending id (section 3)
        sock = w.sockets[sid]
        if sock.lifecycle == Lifecycle.OPEN:
            _drop_holders(w, sock)
        if sock.connected and sock.lifecycle != Lifecycle.DESTROYED and not _quiet(w, sock):
            _settle_socket(w, sock)
            # step 2 may have finished a holder: step 0 again, and the steps
            # after it if that closed the socket (the socket's fixpoint)
            if sock.lifecycle == Lifecycle.OPEN and _drop_holders(w, sock):
                _settle_socket(w, sock)
    _expire_lingering(w)
    # index: keep the sockets still with work (a queue the window or the
    # network holds back, a FIN the network holds back, a closing socket)
    w.unsettled = {sid for sid in w.unsettled if needs_settling(w, w.sockets[sid])}


def needs_settling(w: World, sock: Socket) -> bool:
    """Would :func:`settle` act on ``sock``: an open socket with a holder that
    is no longer pending (step 0), or a connected socket, not destroyed, that
    is not quiet (steps 1-5).  This defines the index ``World.unsettled``."""
    if sock.lifecycle == Lifecycle.OPEN and any(
        w.ops[op_id].status != Status.PENDING for op_id in w.holders.get(sock.id, ())
    ):
        return True
    return sock.connected and sock.lifecycle != Lifecycle.DESTROYED and not _quiet(w, sock)


def _expire_lingering(w: World) -> None:
    """Every linger deadline that is <= clock expires, in (deadline, socket id)
    order (CS-9e)."""
    if not w.lingering:
        return
    expiring = sorted(
        (deadline, sid)
        for sid in w.lingering
        if (deadline := w.sockets[sid].linger_deadline) is not None and deadline <= w.clock
    )
    for _, sid in expiring:
        sock = w.sockets[sid]
        w.apply("CS-9e")
        if w.profile.linger_close == LingerClose.BSD:
            w.apply("PF-4b")  # no reset: the close returns, the socket goes on closing
            sock.linger_deadline = None
            w.lingering.discard(sid)
            effects.finish_linger(w, sock, "PF-4b")
            continue
        effects.reset_ours(w, sock, WSAECONNRESET, "CS-9e")
        effects.destroy(w, sock)
        effects.finish_linger(w, sock, "CS-9e")


def _drop_holders(w: World, sock: Socket) -> bool:
    """Settling step 0 (PF-12b): finished holders drop their references; the
    last one closes the socket without a caller.  True if it did."""
    for op_id in sorted(w.holders.get(sock.id, ())):
        op = w.ops[op_id]
        if op.status == Status.PENDING:
            continue
        w.apply("PF-12b")
        op.holds = False
        w.forget_holder(op)
        sock.refs -= 1
        if sock.refs == 0:
            close_without_caller(w, sock, "PF-12b")
            return True
    return False


def _quiet(w: World, sock: Socket) -> bool:
    """No step of section 6 can act on an open socket: nothing queued or
    waiting to be queued, no FD_WRITE owed, no FIN due.  (A closing socket
    always goes through the steps: FIN and destroy are due.)"""
    return (
        sock.lifecycle == Lifecycle.OPEN
        and sock.send_queue == 0
        and not sock.write_blocked
        and (sock.fin_sent or not sock.sd_send or sock.fin_held)
        and not w.waiting_sends(sock)
    )


def _settle_socket(w: World, sock: Socket) -> None:
    """Steps 1-5 of section 6, to the socket's fixpoint.

    Steps 1 and 2 alternate until nothing moves: the queue drains into the
    peer's window and waiting sends refill it.  Their fixpoint is computed in
    one go: the bytes that reach the peer are bounded by the free window, and
    what does not get through stays queued (up to sndbuf) or in the sends.
    Space frees only once every waiting send is fully queued, so step 3's
    FD_WRITE always follows their completions, and steps 3-5 move no bytes:
    one pass over them reaches the fixpoint.
    """
    w.count_work()
    peer = w.peers[sock.id]
    # 1. delivery (and ST-1R: data that meets a closed application resets)
    room = peer.window - peer.buffered if w.network_up and not sock.reset else 0
    if min(sock.send_queue, room) > 0 and peer.closed:
        w.apply("ST-1R")
        effects.peer_reset_effects(w, sock, "ST-1R")
        if sock.lifecycle == Lifecycle.DESTROYED:
            return
        room = 0  # steps 2-5 go on for the reset socket (decision D15)
    waiting = w.waiting_sends(sock)
    # bytes the sends still hold reach the peer only through the queue: with
    # sndbuf = 0 they never enter it
    unqueued = sum(op.n - op.done_bytes for op in waiting) if w.limits.sndbuf > 0 else 0
    flow = min(sock.send_queue + unqueued, room)
    if flow > 0:
        w.apply("ST-1")
        sock.delivered += flow
        peer.buffered += flow
    # 2. waiting sends take the freed space, in id order
    left_behind = sock.send_queue + unqueued - flow
    queue_after = min(w.limits.sndbuf, left_behind)
    taken = queue_after + flow - sock.send_queue
    sock.send_queue = queue_after
    sock.accepted += taken
    for op in waiting:
        take = min(op.n - op.done_bytes, taken)
        if take > 0:
            w.apply("ST-2")
        op.done_bytes += take
        taken -= take
        if op.done_bytes == op.n:
            effects.complete(w, op, op.n, 0, "ST-2")
    # 3. FD_WRITE once space frees after WSAEWOULDBLOCK
    if sock.write_blocked and w.space(sock) > 0:
        w.apply("ST-3")
        sock.write_blocked = False
        w.post(sock, FD_WRITE)
    # 4. FIN
    if (
        w.network_up
        and sock.send_queue == 0
        and not w.waiting_sends(sock)
        and ((sock.sd_send and not sock.fin_held) or sock.lifecycle == Lifecycle.CLOSING)
        and not sock.fin_sent
    ):
        w.apply("ST-4")
        effects.send_fin(w, sock, "ST-4")
    # 5. a closing socket whose FIN went out is destroyed
    if sock.lifecycle == Lifecycle.CLOSING and sock.fin_sent:
        w.apply("ST-5")
        effects.destroy(w, sock)
        effects.finish_linger(w, sock, "ST-5")
