"""The line protocol between the harness and the Wine driver
(``conformance/wine/driver.c``; its answers and request parsing are
``conformance/protocol.h``, which the lwIP driver shares).

Requests are single lines of space-separated words (:func:`request`).  Every
response is zero or more lines and then a line holding only ``.``:

=====================================  ============================================
line                                   meaning
=====================================  ============================================
``ready main`` / ``ready peer``        the driver started (the first response)
``R RET ERR E1 E2``                    a call's result: return value, WSAGetLastError()
                                       after a failure (else 0), two extra values
``B``                                  the call is still running after WAITMS: blocked
``C T RET ERR E1 E2``                  blocked call on worker T completed
``O pending``                          an overlapped operation is still pending
``O done BYTES EVENTSET RAN STATUS``   it completed; event signalled?; routine ran?;
                                       the raw NTSTATUS (OVERLAPPED.Internal)
``O failed ERR EVENTSET RAN STATUS``   it failed with ERR (see driver.c, do_ovl)
``M HANDLE EVENT ERR`` / ``M none``    a WSAAsyncSelect message (``getmsg``: the oldest;
                                       ``drain``: one line each), or none
``X MESSAGE``                          the driver refused the request
=====================================  ============================================

Handles travel as unsigned decimal numbers; a failed ``socket`` returns
``R -1 ...`` and ``INVALID_SOCKET`` is sent as 18446744073709551615.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.vocab.errors import HarnessError

INVALID_SOCKET_WIRE = 2**64 - 1
END = "."


class ProtocolError(HarnessError):
    """The driver said something the harness does not understand."""


@dataclass
class Response:
    result: tuple[int, int, int, int] | None = None
    blocked: bool = False
    completions: list[tuple[int, tuple[int, int, int, int]]] = field(default_factory=list)
    ovl: tuple[str, int, int, int] | None = None
    #: getmsg: (handle, event, error); None with ``message_seen`` False when
    #: there was no M line at all.
    message: tuple[int, int, int] | None = None
    message_seen: bool = False
    #: drain: every M line, in order.
    messages: list[tuple[int, int, int]] = field(default_factory=list)
    ready: str | None = None
    refused: str | None = None


def request(*words: object) -> str:
    """One request line; negative handles (INVALID_SOCKET) go out unsigned."""
    out = []
    for w in words:
        if isinstance(w, bool) or not isinstance(w, int | str):
            raise TypeError(f"bad request word {w!r}")
        if isinstance(w, str) and (not w or any(c.isspace() for c in w)):
            raise ValueError(f"bad request word {w!r}")
        out.append(str(w))
    return " ".join(out) + "\n"


def call_request(thread: int, wait_ms: int, name: str, handle: int, x: tuple[int, int, int]) -> str:
    wire = INVALID_SOCKET_WIRE if handle < 0 else handle
    return request("call", thread, wait_ms, name, wire, *x)


def _ints(words: list[str], n: int, line: str) -> tuple[int, ...]:
    if len(words) != n:
        raise ProtocolError(f"driver: expected {n} numbers in {line!r}")
    try:
        return tuple(int(w) for w in words)
    except ValueError:
        raise ProtocolError(f"driver: not a number in {line!r}") from None


def parse_response(lines: list[str]) -> Response:
    """Parse one response (its lines, without the final ``.``)."""
    resp = Response()
    for line in lines:
        words = line.split()
        if not words:
            raise ProtocolError("driver: empty line in a response")
        tag, rest = words[0], words[1:]
        if tag == "R":
            r = _ints(rest, 4, line)
            resp.result = (r[0], r[1], r[2], r[3])
        elif tag == "B" and not rest:
            resp.blocked = True
        elif tag == "C":
            c = _ints(rest, 5, line)
            resp.completions.append((c[0], (c[1], c[2], c[3], c[4])))
        elif tag == "O" and rest == ["pending"]:
            resp.ovl = ("pending", 0, 0, 0)
        elif tag == "O" and rest and rest[0] in ("done", "failed"):
            v = _ints(rest[1:], 4, line)
            resp.ovl = (rest[0], v[0], v[1], v[2])
        elif tag == "M" and rest == ["none"]:
            resp.message_seen = True
        elif tag == "M":
            m = _ints(rest, 3, line)
            if resp.message is None:
                resp.message = (m[0], m[1], m[2])
            resp.message_seen = True
            resp.messages.append((m[0], m[1], m[2]))
        elif tag == "X":
            resp.refused = " ".join(rest) or "refused"
        elif tag == "ready" and len(rest) == 1:
            resp.ready = rest[0]
        else:
            raise ProtocolError(f"driver: unknown response line {line!r}")
    return resp
