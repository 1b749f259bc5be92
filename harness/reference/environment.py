"""Environment steps and observations (SEMANTICS.md section 7)."""

from __future__ import annotations

from harness.reference import effects
from harness.reference.world import Peer, World
from harness.vocab import trace
from harness.vocab.constants import (
    FD_READ,
    WSAECONNABORTED,
    WSAENETDOWN,
    WSAENOTSOCK,
    WSAESHUTDOWN,
    WSAEWOULDBLOCK,
    Lifecycle,
    Status,
)
from harness.vocab.profiles import DataAfterClose, PeerCloseUnread, ResetReporting
from harness.vocab.ranges import INT64_MAX

Result = trace.Result
OK: Result = (trace.R_OK, 0, 0, 0)


def _value(v: int) -> Result:
    return (trace.R_VALUE, v, 0, 0)


def _error(err: int) -> Result:
    return (trace.R_SOCKET_ERROR, err, 0, 0)


def advance(w: World, ms: int) -> Result:
    w.apply("ENV-1")
    w.clock = min(w.clock + ms, INT64_MAX)  # the clock saturates (D38)
    return OK


def set_network(w: World, up: bool) -> Result:
    w.apply("ENV-1")
    w.network_up = up
    return OK


def _peer_checks(w: World, peer_id: int, step: str = "") -> Result | None:
    """The three peer checks; ``step`` is "recv" or "send" for the transfer
    steps, whose check 3 follows reset_reporting and reset_keeps_received."""
    if not w.network_up:
        w.apply("PEER-1")
        return _error(WSAENETDOWN)
    peer = w.peers.get(peer_id)
    if peer is None or peer.closed:
        w.apply("PEER-2")
        return _error(WSAENOTSOCK)
    if peer.reset:
        return _peer_reset_check(w, peer, step)
    return None


def _peer_reset_check(w: World, peer: Peer, step: str) -> Result | None:
    """Check 3 on a reset peer.  peer_close and peer_reset keep it as written."""
    p = w.profile
    if step == "recv" and p.reset_keeps_received and peer.buffered > 0:
        w.apply("PF-6")  # what had arrived is read first
        return None
    if step and p.reset_reporting == ResetReporting.ONCE:
        w.apply("PF-5d")
        if not peer.reset_reported:
            peer.reset_reported = True
            return _error(peer.reset_code)
        return None if step == "recv" else _error(WSAESHUTDOWN)
    if step == "recv" and p.reset_reporting == ResetReporting.EOF:
        w.apply("PF-5e")  # read as end of file
        return None
    w.apply("PEER-3")
    return _error(peer.reset_code)


def peer_recv(w: World, peer_id: int, n: int) -> Result:
    if (err := _peer_checks(w, peer_id, "recv")) is not None:
        return err
    peer = w.peers[peer_id]
    if n == 0:
        w.apply("PR-1")
        return _value(0)
    if peer.buffered > 0:
        w.apply("PR-1")
        k = min(n, peer.buffered)
        peer.buffered -= k
        peer.read += k
        return _value(k)
    if peer.fin or peer.reset:  # a reset that passed check 3 reads as end of file
        w.apply("PR-2")
        return _value(0)
    w.apply("PR-3")
    return _error(WSAEWOULDBLOCK)


def peer_send(w: World, peer_id: int, n: int) -> Result:
    if (err := _peer_checks(w, peer_id, "send")) is not None:
        return err
    if n == 0:
        w.apply("PS-1")
        return _value(0)
    sock = w.sockets[peer_id]
    if sock.lifecycle != Lifecycle.OPEN:
        _data_after_close(w, peer_id)
        return _value(n)
    w.apply("PS-1")
    left = n
    for op in w.pending_on(sock):
        if op.is_recv and left > 0:
            take = min(op.n, left)
            left -= take
            effects.complete(w, op, take, 0, "PS-1")
    was_empty = sock.recv_queue == 0
    sock.recv_queue += left
    if was_empty and sock.recv_queue > 0:
        w.post(sock, FD_READ)
    return _value(n)


def _data_after_close(w: World, peer_id: int) -> None:
    """The peer's data meets a closing or destroyed socket (data_after_close)."""
    sock, peer = w.sockets[peer_id], w.peers[peer_id]
    if w.profile.data_after_close == DataAfterClose.DISCARD:
        w.apply("PS-2")
        return
    w.apply("PS-3")
    if sock.lifecycle == Lifecycle.CLOSING:
        effects.reset_ours(w, sock, WSAECONNABORTED, "PS-3")
        effects.destroy(w, sock)
        effects.finish_linger(w, sock, "PS-3")
        return
    w.emit((trace.E_RESET, sock.id, 0, 0, 0), "PS-3")
    peer.reset = True
    peer.reset_code = WSAECONNABORTED
    peer.dropped += peer.buffered
    peer.buffered = 0


def peer_close(w: World, peer_id: int) -> Result:
    if (err := _peer_checks(w, peer_id)) is not None:
        return err
    peer, sock = w.peers[peer_id], w.sockets[peer_id]
    if w.profile.peer_close_unread == PeerCloseUnread.RESET and peer.buffered > 0:
        w.apply("PF-7")  # closing with our data unread resets the connection
        effects.peer_reset_effects(w, sock, "PF-7")
        return _value(0)
    w.apply("PC-1")
    peer.closed = True
    peer.dropped += peer.buffered
    peer.buffered = 0
    if sock.lifecycle != Lifecycle.DESTROYED:
        sock.peer_fin = True
        sock.close_seen = True
        sock.close_error = 0
        for op in w.pending_on(sock):
            if op.is_recv:
                effects.complete(w, op, 0, 0, "PC-1")
        effects.fin_close_due(w, sock)
    return _value(0)


def peer_reset(w: World, peer_id: int) -> Result:
    if (err := _peer_checks(w, peer_id)) is not None:
        return err
    effects.peer_reset_effects(w, w.sockets[peer_id], "PX-1")
    return _value(0)


def ovl(w: World, op_id: int) -> Result:
    w.apply("OVL-1")
    op = w.ops.get(op_id)
    if op is None:
        return (trace.R_NONE, 0, 0, 0)
    if op.status == Status.PENDING:
        return (trace.R_OVL_PENDING, 0, 0, 0)
    if op.status == Status.DONE:
        return (trace.R_OVL_DONE, op.done_bytes, int(op.note), 0)
    return (trace.R_OVL_FAILED, op.error, int(op.note), 0)
