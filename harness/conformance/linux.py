"""The Linux engine: the steps run as POSIX socket calls on loopback.

The POSIX mapping (each call is the C library's, made by descriptor number
through :mod:`harness.conformance.posix`; errno is mapped by
:mod:`harness.conformance.errnomap`):

=========================  ==================================================
step                       Linux call
=========================  ==================================================
startup                    nothing (POSIX needs no initialisation); its result
                           is made up, so it is never compared
socket stream|dgram        socket(AF_INET, SOCK_STREAM|SOCK_DGRAM, 0)
bind S P                   bind to 127.0.0.1 (port mapping: see session.py)
connect S                  connect to the engine's listener on 127.0.0.1
setsockopt SO_LINGER a b   setsockopt(SO_LINGER, struct linger {a, b})
setsockopt SO_DONTLINGER   getsockopt(SO_LINGER), then setsockopt(SO_LINGER,
                           {V == 0, the same l_linger}): Linux has no
                           SO_DONTLINGER, this is its definition
getsockopt SO_DONTLINGER   getsockopt(SO_LINGER), reported as l_onoff == 0
ioctlsocket FIONBIO V      ioctl(FIONBIO, V != 0) (sets O_NONBLOCK)
send / recv                send(MSG_NOSIGNAL) / recv
shutdown S HOW             shutdown(HOW) (SHUT_RD/WR/RDWR are 0/1/2 too)
duplicate S 0              dup()
closesocket S              close()
getlasterror               the errno of the thread's last failing call
                           (POSIX does not clear it on success)
peer_close / peer_reset    close() / setsockopt(SO_LINGER {1,0}) + close()
=========================  ==================================================

Not supported: cleanup, overlapped I/O (wsasend, wsarecv, ovl, sleepex),
WSAAsyncSelect (asyncselect, getmessage), cancelblocking, net_down/net_up,
process p1 (t2, t3), duplicates into another process, raw descriptors.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from dataclasses import dataclass

from harness.conformance import posix as px
from harness.conformance.engine import COMPLETIONS, PEER, RESULTS, Capabilities
from harness.conformance.errnomap import wsa_error
from harness.conformance.session import OvlRaw, Raw, SessionEngine
from harness.conformance.workers import Workers
from harness.vocab.constants import WSAEWOULDBLOCK, Op

_MSG_PEEK = 2  # Linux's MSG_PEEK

#: WSACleanup, overlapped I/O, WSAAsyncSelect and blocking hooks have no POSIX
#: counterpart; the network cannot be taken down from a test.
_UNSUPPORTED = {Op.CLEANUP, Op.WSASEND, Op.WSARECV, Op.OVL, Op.SLEEPEX, Op.ASYNCSELECT}
_UNSUPPORTED |= {Op.GETMESSAGE, Op.CANCELBLOCKING, Op.NET_DOWN, Op.NET_UP}

#: Calls that cannot block, made on the harness's own thread (no thread switch).
INLINE = frozenset(
    {"socket", "bind", "setlinger", "setdontlinger", "getlinger", "getdontlinger", "fionbio"}
    | {"shutdown", "duplicate"}
)
#: How long a peer_send waits for its data to be acknowledged by our socket.
DELIVERY_WAIT = 0.01
#: What makes a blocked recv return: data or a FIN (POLLIN, POLLRDHUP), an
#: error, a hang-up (a reset, or SHUT_RD: POLLIN too).
_RECV_WAKES = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLRDHUP


@dataclass
class _BlockedRecv:
    """A recv blocked in a worker thread: its descriptor and that socket's inode."""

    fd: int
    inode: int
    #: the backend's operation count when the program closed ``fd`` (None: open)
    closed_at: int | None = None
    #: whether the socket could wake the recv just before that close
    ready_at_close: bool = False


LINUX_CAPABILITIES = Capabilities(
    ops=frozenset(Op) - _UNSUPPORTED,
    synthesized=frozenset({Op.STARTUP}),
    threads=frozenset({0, 1}),
    observables=frozenset({RESULTS, PEER, COMPLETIONS}),
    max_count=64 << 20,
    max_sleep_ms=3000,
    saturation=32 << 20,
    #: a loopback peer has 64 KiB of a nonblocking send at once (127,973 bytes
    #: of larger ones, measured on Linux 6.18; Wine sends through the host's sockets)
    delivery=64 << 10,
    block_wait=0.3,
    settle=0.2,
    block_confirm=0.015,
    notes=(
        "startup is not made (POSIX needs no initialisation); its result is not compared",
        "SO_DONTLINGER is composed from SO_LINGER (Linux has no SO_DONTLINGER)",
        "getlasterror gives the errno of the thread's last failing call (POSIX leaves errno "
        "alone on success)",
        "errno maps to Winsock errors as harness/conformance/errnomap.py says",
    ),
)


class LinuxBackend:
    """Kernel sockets on loopback; the peer is the accepted socket."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._port = self._listener.getsockname()[1]
        self._peers: list[int] = []
        self._live: set[int] = set()  # descriptors the program made and has not closed
        self._lock = threading.Lock()
        self._workers: Workers[Raw] | None = None
        self._out, self._in = px.Buffers(), px.Buffers()  # contents never matter
        self.leaked_threads = 0
        #: model thread -> the Winsock error of its last failing call
        self._last_error: dict[int, int] = {}
        #: model thread -> its blocked recv (what :meth:`quiet` checks)
        self._recvs: dict[int, _BlockedRecv] = {}
        #: calls and peer operations made so far (when a close happened)
        self._ops = 0

    # --- program lifecycle ----------------------------------------------------------

    def reset(self) -> None:
        for fd in self._peers:
            if fd >= 0:
                px.abort_close(fd)
        self._peers = []
        with self._lock:
            live, self._live = self._live, set()
        for fd in live:
            px.shutdown(fd, 2)  # wakes a call blocked on it in a worker thread
            px.abort_close(fd)
        while select.select([self._listener], [], [], 0)[0]:
            conn, _ = self._listener.accept()
            px.abort_close(conn.detach())
        workers = self._workers
        if workers is not None:
            workers.poll(2.0)  # the calls the closes above woke
            if any(workers.busy(t) for t in (0, 1)):
                self.leaked_threads += workers.stop(0.0)
                workers = None
        if workers is None:
            workers = self._workers = Workers(2, "wsa-linux")
        self._last_error = {}
        self._recvs = {}

    def close(self) -> None:
        self.reset()
        if self._workers is not None:
            self._workers.stop(1.0)
        self._listener.close()

    # --- calls -----------------------------------------------------------------------

    def foreign(self, handle: int) -> bool:
        with self._lock:
            ours = handle in self._live
        return not ours and px.is_open(handle)

    def call(
        self, thread: int, name: str, handle: int, x: tuple[int, int, int], wait: float
    ) -> Raw | None:
        if name == "startup":
            return (0, 0, 0, 0)
        if name == "getlasterror":
            return (self._last_error.get(thread, 0), 0, 0, 0)
        self._ops += 1
        if name == "closesocket":
            self._closing(handle)
        if name in INLINE:  # cannot block: made here, without a thread switch
            return self._record(thread, self._run(name, handle, x))
        assert self._workers is not None
        raw = self._workers.call(thread, lambda: self._run(name, handle, x), wait)
        if raw is None and name == "recv":
            self._recvs[thread] = _BlockedRecv(handle, _inode(handle))
        return None if raw is None else self._record(thread, raw)

    def _closing(self, fd: int) -> None:
        """Before the program closes ``fd``: a recv blocked on it keeps the socket
        (Linux's close neither wakes nor changes it), so whether the recv can
        return right after the close is whether it could just before."""
        for blocked in self._recvs.values():
            if blocked.fd == fd and blocked.closed_at is None and _inode(fd) == blocked.inode:
                blocked.ready_at_close = _can_wake(fd)
                blocked.closed_at = self._ops

    def quiet(self) -> bool:
        """Whether every blocked call surely stays blocked for now: each is a recv
        whose socket shows nothing that wakes a recv (:data:`_RECV_WAKES`), checked
        on its descriptor while that still names it, or, right after the program
        closed it, as it was just before the close."""
        assert self._workers is not None
        for thread in (0, 1):
            if not self._workers.busy(thread):
                continue
            blocked = self._recvs.get(thread)
            if blocked is None:
                return False  # a send, connect or lingering close: not checked
            if blocked.closed_at is not None:
                if blocked.closed_at != self._ops or blocked.ready_at_close:
                    return False  # something happened since, unseen
            elif _inode(blocked.fd) != blocked.inode or _can_wake(blocked.fd):
                return False
        return True

    def _record(self, thread: int, raw: Raw) -> Raw:
        """The thread's last error is its last failing call's (POSIX leaves errno
        alone on success)."""
        if raw[0] == -1:
            self._last_error[thread] = raw[1]
        return raw

    def poll(self, wait: float, want: int = -1) -> list[tuple[int, Raw]]:
        assert self._workers is not None
        done = self._workers.poll(wait, want)
        for t, _ in done:
            self._recvs.pop(t, None)
        return [(t, self._record(t, raw)) for t, raw in done]

    def leaked(self) -> int:
        return self.leaked_threads

    def _run(self, name: str, fd: int, x: tuple[int, int, int]) -> Raw:
        """One call, on the worker thread; errno is mapped before it can change."""
        if name in ("getlinger", "getdontlinger", "setdontlinger"):
            ret, err, onoff, secs = px.get_linger(fd)
            if ret != 0:
                return (ret, wsa_error(err), 0, 0)
            if name == "getlinger":
                return (0, 0, onoff, secs)
            if name == "getdontlinger":
                return (0, 0, int(onoff == 0), 0)
            ret, err = px.set_linger(fd, int(x[0] == 0), secs)
            return (ret, wsa_error(err), 0, 0)
        if name == "bind":
            ret, err, port = px.bind(fd, x[0])
            return (ret, wsa_error(err), port, 0)
        if name == "closesocket":
            # The number is free as soon as close() starts (a linger close blocks
            # after that), so a socket made meanwhile may reuse it: forget it first.
            with self._lock:
                self._live.discard(fd)
        ret, err = self._simple(name, fd, x)
        if ret >= 0 and name in ("socket", "duplicate"):
            with self._lock:
                self._live.add(ret)
        return (ret, wsa_error(err), 0, 0)

    def _simple(self, name: str, fd: int, x: tuple[int, int, int]) -> px.Ret:
        if name == "socket":
            return px.socket_(px.SOCK_DGRAM if x[0] == 2 else px.SOCK_STREAM)
        if name == "connect":
            return px.connect(fd, x[0])
        if name == "setlinger":
            return px.set_linger(fd, x[0], x[1])
        if name == "fionbio":
            return px.fionbio(fd, x[0])
        if name == "send":
            return px.send(fd, self._out.get(x[0]), x[0])
        if name == "recv":
            return px.recv(fd, self._in.get(x[0]), x[0])
        if name == "shutdown":
            return px.shutdown(fd, x[0] if x[0] < 2**31 else -1)
        if name == "duplicate":
            return px.dup(fd)
        if name == "closesocket":
            return px.close(fd)
        raise ValueError(f"the Linux engine has no call {name!r}")

    def ovl(self, op_id: int, wait: float) -> OvlRaw:
        raise ValueError("the Linux engine has no overlapped operations")

    def messages(self, wait: float, want: int) -> list[tuple[int, int, int]]:
        raise ValueError("the Linux engine has no WSAAsyncSelect messages")

    # --- the peer --------------------------------------------------------------------

    def peer_port(self) -> int:
        return int(self._port)

    def peer_accept(self, wait: float) -> int:
        if not select.select([self._listener], [], [], wait)[0]:
            return 0
        conn, _ = self._listener.accept()
        fd = conn.detach()
        px.fionbio(fd, 1)
        self._peers.append(fd)
        return len(self._peers)

    def _peer_fd(self, peer: int) -> int:
        return self._peers[peer - 1]

    def peer_recv(self, peer: int, n: int, wait: float) -> Raw:
        self._ops += 1
        fd = self._peer_fd(peer)
        select.select([fd], [], [], wait)
        if n == 0:
            # the peer checks first (a reset), then 0: a zero-length read never
            # waits (SEMANTICS.md section 7, D24; decision D70).  Peek one byte.
            ret, err = px.recv(fd, self._in.get(1), 1, px.MSG_DONTWAIT | _MSG_PEEK)
            return (
                (0, 0, 0, 0)
                if ret >= 0 or wsa_error(err) == WSAEWOULDBLOCK
                else (ret, wsa_error(err), 0, 0)
            )
        ret, err = px.recv(fd, self._in.get(n), n, px.MSG_DONTWAIT)
        return (ret, wsa_error(err), 0, 0)

    def peer_send(self, peer: int, n: int) -> Raw:
        self._ops += 1
        fd = self._peer_fd(peer)
        ret, err = px.send(fd, self._out.get(n), n, px.MSG_DONTWAIT)
        # the model delivers at once: wait (briefly) until the program's socket has
        # the data, so that the next recv finds it (loopback is fast, not instant)
        deadline = time.monotonic() + DELIVERY_WAIT
        while px.unacked(fd) > 0 and time.monotonic() < deadline:
            time.sleep(0.0002)
        return (ret, wsa_error(err), 0, 0)

    def peer_close(self, peer: int, reset: bool) -> Raw:
        self._ops += 1
        fd = self._peer_fd(peer)
        if reset:
            px.set_linger(fd, 1, 0)
        ret, err = px.close(fd)
        self._peers[peer - 1] = -1
        return (ret, wsa_error(err), 0, 0)


def _inode(fd: int) -> int:
    """The inode of the socket ``fd`` names (-1: not open)."""
    try:
        return os.fstat(fd).st_ino
    except OSError:
        return -1


def _can_wake(fd: int) -> bool:
    """Whether the socket ``fd`` shows an event that returns a blocked recv."""
    poller = select.poll()
    poller.register(fd, _RECV_WAKES)
    return any(events & _RECV_WAKES for _, events in poller.poll(0))


class LinuxEngine(SessionEngine):
    """The Linux kernel's TCP sockets behind the conformance oracle."""

    name = "linux"
    capabilities = LINUX_CAPABILITIES

    def __init__(self) -> None:
        super().__init__(LinuxBackend())
