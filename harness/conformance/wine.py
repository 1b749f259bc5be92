"""The Wine engine: the steps run as real Winsock calls in Wine's ws2_32.

Two long-running processes of ``wsa-driver.exe`` (``conformance/wine/driver.c``,
built by ``make conformance-driver``) serve every program:
- ``main`` is the program's process p0, with one worker thread per model
  thread t0, t1.  It never calls WSAStartup itself, so the program's startup
  counting and cleanup are real;
- ``peer`` holds the listener and the accepted sockets (the peers); being a
  separate process, the program's WSACleanup does not reach it.
They speak the line protocol of :mod:`harness.conformance.protocol`.  Wine runs
headless (``WINEDEBUG=-all``, no display) in a private prefix under
``build/conformance/``; the first start creates it (5-20 s).

WSAAsyncSelect posts to a message-only window of the main process's main
thread; ``getmessage`` takes the oldest message from it, waiting up to the
settle time for one to arrive, and shows the descriptor as the variable last
bound to that handle.

Not supported: net_down/net_up, process p1 (t2, t3), duplicates into another
process, raw descriptor values.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.conformance.driver import (
    BUILD,
    REPO,
    DriverBackend,
    DriverProcess,
    ensure_built,
    result,
)
from harness.conformance.engine import (
    COMPLETIONS,
    MESSAGES,
    OVERLAPPED,
    PEER,
    RESULTS,
    Capabilities,
)
from harness.conformance.protocol import Response, call_request, request
from harness.conformance.session import EngineFailure, OvlRaw, Raw, SessionEngine
from harness.vocab.constants import Op
from harness.vocab.errors import HarnessError

DRIVER_SOURCE = REPO / "conformance" / "wine" / "driver.c"
DRIVER = BUILD / "wsa-driver.exe"
PREFIX = BUILD / "wineprefix"
#: How long the first start may take (it creates the prefix).
START_TIMEOUT = 180.0
#: Slack on top of a request's own wait before the driver counts as silent
#: (then it is killed and started afresh; issue 15 asks recovery in <= 5 s).
ANSWER_SLACK = float(os.environ.get("WSA_WINE_ANSWER_SLACK", "2.0"))
#: How long a reset may take (the driver waits up to 1 s for stuck threads).
RESET_WAIT = 1.5

WINE_CAPABILITIES = Capabilities(
    ops=frozenset(Op) - {Op.NET_DOWN, Op.NET_UP},
    synthesized=frozenset(),
    threads=frozenset({0, 1}),
    observables=frozenset({RESULTS, PEER, COMPLETIONS, OVERLAPPED, MESSAGES}),
    max_count=64 << 20,
    max_sleep_ms=3000,
    saturation=32 << 20,
    #: Wine sends through the host's loopback sockets (the Linux engine's figure)
    delivery=64 << 10,
    block_wait=0.5,
    settle=0.8,
    block_confirm=0.03,
    notes=(
        "duplicate S 0 is WSADuplicateSocketW(own pid) + WSASocketW(FROM_PROTOCOL_INFO)",
        "wsasend/wsarecv use one WSABUF; event mode signals a WSACreateEvent event",
        "ovl reads WSAGetOverlappedResult(fWait=FALSE) and whether the event is set",
        "sleepex is SleepEx(0, TRUE) on the thread; it returns how many routines ran",
        "asyncselect posts to a message-only window; getmessage is PeekMessage on it",
    ),
)


def wine_command() -> list[str]:
    """The wine loader to run a 64-bit .exe with."""
    for name in ("wine64", "wine"):
        path = shutil.which(name)
        if path:
            return [path]
    for path in ("/usr/lib/wine/wine64", "/usr/lib/wine/wine"):
        if os.access(path, os.X_OK):
            return [path]
    raise HarnessError("wine is not installed: `make conformance` installs it (Debian: wine64)")


def ensure_driver() -> Path:
    """Build the driver with `make conformance-driver` when missing or stale."""
    return ensure_built(
        DRIVER, DRIVER_SOURCE, "conformance-driver", "the Wine driver (`make conformance-driver`)"
    )


def start_driver(mode: str) -> DriverProcess:
    """Start one ``wsa-driver.exe`` process: ``main`` or ``peer``."""
    env = dict(os.environ)
    env.update(WINEPREFIX=str(PREFIX), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml=")
    env.pop("DISPLAY", None)
    PREFIX.parent.mkdir(parents=True, exist_ok=True)
    argv = [*wine_command(), str(ensure_driver()), mode]
    return DriverProcess(argv, mode, mode, START_TIMEOUT, ANSWER_SLACK, env)


class WineBackend(DriverBackend):
    """The two driver processes, replaced after a failure (:class:`DriverBackend`)."""

    def __init__(self) -> None:
        super().__init__()
        self._main: DriverProcess | None = None
        self._peer: DriverProcess | None = None
        self._port = 0

    def _drivers(self) -> tuple[DriverProcess, DriverProcess]:
        if self._main is None:
            self._main = start_driver("main")
        if self._peer is None:
            self._peer = start_driver("peer")
            self._port = result(self._peer.ask(request("listen")), "listen")[0]
        return self._main, self._peer

    def _ask(self, which: str, line: str, wait: float = 0.0) -> Response:
        main, peer = self._drivers()
        return self._ask_on(main if which == "main" else peer, line, wait)

    def _stop(self, kill: bool) -> None:
        for d in (self._main, self._peer):
            if d is not None:
                d.stop(kill)
        self._main = self._peer = None

    def _reset(self) -> None:
        self._ask("peer", request("reset"))
        self._ask("main", request("reset"), RESET_WAIT)

    def foreign(self, handle: int) -> bool:
        return False

    def call(
        self, thread: int, name: str, handle: int, x: tuple[int, int, int], wait: float
    ) -> Raw | None:
        resp = self._ask("main", call_request(thread, int(wait * 1000), name, handle, x), wait)
        return None if resp.blocked else result(resp, name)

    def poll(self, wait: float, want: int = -1) -> list[tuple[int, Raw]]:
        return self._ask("main", request("poll", int(wait * 1000), want), wait).completions

    def ovl(self, op_id: int, wait: float) -> OvlRaw:
        resp = self._ask("main", request("ovl", op_id, int(wait * 1000)), wait)
        if resp.ovl is None:
            raise EngineFailure("no answer to ovl")
        return resp.ovl

    def messages(self, wait: float, want: int) -> list[tuple[int, int, int]]:
        return self._ask("main", request("drain", int(wait * 1000), want), wait).messages

    def hang(self, ms: int) -> None:
        """Make the main driver sleep ``ms`` ms before answering (tests of recovery)."""
        self._ask("main", request("sleep", ms), ms / 1000)

    def peer_port(self) -> int:
        self._drivers()
        return self._port

    def peer_accept(self, wait: float) -> int:
        r = result(self._ask("peer", request("accept", int(wait * 1000)), wait), "accept")
        return max(r[0], 0)

    def peer_recv(self, peer: int, n: int, wait: float) -> Raw:
        resp = self._ask("peer", request("precv", peer, n, int(wait * 1000)), wait)
        return result(resp, "peer_recv")

    def peer_send(self, peer: int, n: int) -> Raw:
        return result(self._ask("peer", request("psend", peer, n)), "peer_send")

    def peer_close(self, peer: int, reset: bool) -> Raw:
        line = request("preset" if reset else "pclose", peer)
        return result(self._ask("peer", line), "peer_close")


class WineEngine(SessionEngine):
    """Wine's ws2_32 behind the conformance oracle."""

    name = "wine"
    capabilities = WINE_CAPABILITIES

    def __init__(self) -> None:
        wine_command()
        super().__init__(WineBackend())
