"""The lwIP engine: the steps run as lwIP socket calls in a user-space stack.

``lwip-driver`` (``conformance/lwip/driver.c``, built by ``make
conformance-lwip``) links Debian's liblwip 2.1.3 and brings the stack up in
its own process: the tcpip thread and a netif at 10.0.0.1 that loops back
what it sends to itself.  Both ends of each connection are lwIP sockets of
that stack: the program's, and the peer accepted from a listener on 10.0.0.1.
One long-lived process serves every program over the Wine driver's line
protocol (:mod:`harness.conformance.protocol`), the main and the peer
requests alike.

The mapping is the Linux engine's (:mod:`harness.conformance.linux`), with
lwIP's calls: ``lwip_socket``, ``lwip_bind`` (to 10.0.0.1), ``lwip_connect``,
``lwip_setsockopt(SO_LINGER)`` (``SO_DONTLINGER`` composed from it),
``lwip_ioctl(FIONBIO)``, ``lwip_send``/``lwip_recv``, ``lwip_shutdown``,
``lwip_close``; ``getlasterror`` is the thread's errno, which lwIP sets only
on a failure; errno maps as :mod:`harness.conformance.errnomap` says.
``startup`` is not made (its result is not compared).

Not supported (lwIP has no counterpart): cleanup, duplicate, overlapped I/O
(wsasend, wsarecv, ovl, sleepex), WSAAsyncSelect (asyncselect, getmessage),
cancelblocking, net_down/net_up; nor process p1 (t2, t3), raw descriptors.
Debian's build has ``MEMP_NUM_NETCONN = 4``: four lwIP sockets at once, the
listener and the peers included.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from harness.conformance.driver import (
    BUILD,
    REPO,
    DriverBackend,
    DriverProcess,
    ensure_built,
    result,
)
from harness.conformance.errnomap import wsa_error
from harness.conformance.linux import LINUX_CAPABILITIES
from harness.conformance.protocol import Response, call_request, request
from harness.conformance.session import EngineFailure, OvlRaw, Raw, SessionEngine
from harness.vocab.constants import Op

DRIVER_SOURCE = REPO / "conformance" / "lwip" / "driver.c"
DRIVER = BUILD / "lwip-driver"
#: Slack on top of a request's own wait before the driver counts as silent.
ANSWER_SLACK = 10.0
#: How long a reset may wait for blocked calls to end (the driver gives up after 1 s).
RESET_WAIT = 3.0

#: The Linux engine's mapping, less duplicate (lwIP has no dup()), with lwIP's own
#: buffers and timing: a figure measured on Linux is not lwIP's.
LWIP_CAPABILITIES = replace(
    LINUX_CAPABILITIES,
    ops=LINUX_CAPABILITIES.ops - {Op.DUPLICATE},
    #: lwIP takes at most TCP_SND_BUF (65535) bytes in one send and buffers about
    #: 128 KiB per connection (its send buffer and the peer's TCP_WND, 65535 each):
    #: a blocking send of 129,000 bytes completes, one of 130,000 blocks (measured),
    #: so a single send of 128 KiB or more fills it (decision D81)
    saturation=128 << 10,
    #: what the peer surely has when a send returns is not measured on lwIP: none
    delivery=0,
    #: up to 1.2 s for what the models expect: lwIP checks a linger close's deadline
    #: from its TCP poll timer, up to about a second after it passed (c19)
    settle=1.2,
    #: lwip_close of a nonblocking socket while another thread is blocked in
    #: lwip_send on it aborts the process (an lwIP assertion; c08 without FIONBIO
    #: fails with EWOULDBLOCK instead): the comparison ends there (decision D84)
    crashes=(
        (
            Op.CLOSESOCKET,
            "blocked_send nonblocking",
            "lwIP aborts when a nonblocking socket is closed under a blocked send",
        ),
    ),
    notes=(
        "startup is not made (lwIP needs no initialisation per caller); its result is not compared",
        "SO_DONTLINGER is composed from SO_LINGER (lwIP has no SO_DONTLINGER)",
        "getlasterror reads the thread's errno, which lwIP sets only on a failure",
        "errno maps to Winsock errors as harness/conformance/errnomap.py says",
        "both ends of a connection are sockets of one lwIP stack, looped back on 10.0.0.1",
    ),
)


def ensure_driver() -> Path:
    """Build the driver with `make conformance-lwip` when missing or stale."""
    what = "the lwIP driver (`make conformance-lwip`, needs liblwip-dev)"
    return ensure_built(DRIVER, DRIVER_SOURCE, "conformance-lwip", what)


def _wsa(raw: Raw, getlasterror: bool = False) -> Raw:
    """A driver result with errno mapped to Winsock (the ``err`` field, or the
    return value of getlasterror)."""
    ret, err, e1, e2 = raw
    if getlasterror:
        return (wsa_error(ret), 0, e1, e2)
    return (ret, wsa_error(err), e1, e2)


class LwipBackend(DriverBackend):
    """The one driver process, replaced after a failure (:class:`DriverBackend`)."""

    def __init__(self) -> None:
        super().__init__()
        self._driver: DriverProcess | None = None
        self._port = 0
        #: lwIP descriptors of the harness (the listener, open peers), by peer id
        self._listener = -1
        self._peer_fds: dict[int, int] = {}

    def _ask(self, line: str, wait: float = 0.0) -> Response:
        if self._driver is None:
            argv = [str(ensure_driver())]
            self._driver = DriverProcess(argv, "lwIP", "lwip", ANSWER_SLACK, ANSWER_SLACK)
            r = result(self._driver.ask(request("listen")), "listen")
            self._port, self._listener = r[0], r[2]
        return self._ask_on(self._driver, line, wait)

    def _stop(self, kill: bool) -> None:
        if self._driver is not None:
            self._driver.stop(kill)
        self._driver = None
        self._peer_fds = {}

    def _reset(self) -> None:
        # a thread still blocked in a call makes it fail (the driver does not close
        # sockets under it: that can block in lwIP), and the process is replaced
        self._peer_fds = {}
        self._ask(request("reset"), RESET_WAIT)

    def foreign(self, handle: int) -> bool:
        return handle == self._listener or handle in self._peer_fds.values()

    def call(
        self, thread: int, name: str, handle: int, x: tuple[int, int, int], wait: float
    ) -> Raw | None:
        resp = self._ask(call_request(thread, int(wait * 1000), name, handle, x), wait)
        if resp.blocked:
            return None
        return _wsa(result(resp, name), name == "getlasterror")

    def poll(self, wait: float, want: int = -1) -> list[tuple[int, Raw]]:
        resp = self._ask(request("poll", int(wait * 1000), want), wait)
        return [(t, _wsa(raw)) for t, raw in resp.completions]

    def ovl(self, op_id: int, wait: float) -> OvlRaw:
        raise EngineFailure("lwIP has no overlapped operations")

    def messages(self, wait: float, want: int) -> list[tuple[int, int, int]]:
        return []  # no WSAAsyncSelect: never registered

    def peer_port(self) -> int:
        if self._driver is None:
            self._ask(request("poll", 0, 0))
        return self._port

    def peer_accept(self, wait: float) -> int:
        r = result(self._ask(request("accept", int(wait * 1000)), wait), "accept")
        if r[0] > 0:
            self._peer_fds[r[0]] = r[2]
        return max(r[0], 0)

    def peer_recv(self, peer: int, n: int, wait: float) -> Raw:
        resp = self._ask(request("precv", peer, n, int(wait * 1000)), wait)
        return _wsa(result(resp, "peer_recv"))

    def peer_send(self, peer: int, n: int) -> Raw:
        return _wsa(result(self._ask(request("psend", peer, n)), "peer_send"))

    def peer_close(self, peer: int, reset: bool) -> Raw:
        line = request("preset" if reset else "pclose", peer)
        raw = _wsa(result(self._ask(line), "peer_close"))
        self._peer_fds.pop(peer, None)
        return raw


class LwipEngine(SessionEngine):
    """lwIP's sockets API behind the conformance oracle."""

    name = "lwip"
    capabilities = LWIP_CAPABILITIES

    def __init__(self) -> None:
        ensure_driver()
        super().__init__(LwipBackend())
