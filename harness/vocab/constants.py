"""Shared vocabulary: error codes, option ids, opcodes and enums.

Both engines import this module; it holds names and numbers only, no logic.
Values follow SEMANTICS.md section 12.
"""

from __future__ import annotations

from enum import IntEnum

# --- return values -------------------------------------------------------

SOCKET_ERROR = -1
#: INVALID_SOCKET is ``~0``.  The model stores it as this sentinel; it is
#: never a multiple of 4, so it never names a table entry.
INVALID_SOCKET = 0xFFFFFFFFFFFFFFFF

# --- error codes (SEMANTICS.md section 12) --------------------------------

WSAEINTR = 10004
WSAEINVAL = 10022
WSAEMFILE = 10024
WSAEWOULDBLOCK = 10035
WSAEINPROGRESS = 10036
WSAENOTSOCK = 10038
WSAENOPROTOOPT = 10042
WSAEOPNOTSUPP = 10045
WSAEADDRINUSE = 10048
WSAENETDOWN = 10050
WSAECONNABORTED = 10053
WSAECONNRESET = 10054
WSAENOBUFS = 10055
WSAEISCONN = 10056
WSAENOTCONN = 10057
WSAESHUTDOWN = 10058
WSAVERNOTSUPPORTED = 10092
WSANOTINITIALISED = 10093
WSA_IO_PENDING = 997
WSA_OPERATION_ABORTED = 995
ERROR_CONNECTION_ABORTED = 1236
ERROR_HANDLES_CLOSED = 676

ERROR_NAMES: dict[int, str] = {
    WSAEINTR: "WSAEINTR",
    WSAEINVAL: "WSAEINVAL",
    WSAEMFILE: "WSAEMFILE",
    WSAEWOULDBLOCK: "WSAEWOULDBLOCK",
    WSAEINPROGRESS: "WSAEINPROGRESS",
    WSAENOTSOCK: "WSAENOTSOCK",
    WSAENOPROTOOPT: "WSAENOPROTOOPT",
    WSAEOPNOTSUPP: "WSAEOPNOTSUPP",
    WSAEADDRINUSE: "WSAEADDRINUSE",
    WSAENETDOWN: "WSAENETDOWN",
    WSAECONNABORTED: "WSAECONNABORTED",
    WSAECONNRESET: "WSAECONNRESET",
    WSAENOBUFS: "WSAENOBUFS",
    WSAEISCONN: "WSAEISCONN",
    WSAENOTCONN: "WSAENOTCONN",
    WSAESHUTDOWN: "WSAESHUTDOWN",
    WSAVERNOTSUPPORTED: "WSAVERNOTSUPPORTED",
    WSANOTINITIALISED: "WSANOTINITIALISED",
    WSA_IO_PENDING: "WSA_IO_PENDING",
    WSA_OPERATION_ABORTED: "WSA_OPERATION_ABORTED",
    ERROR_CONNECTION_ABORTED: "ERROR_CONNECTION_ABORTED",
    ERROR_HANDLES_CLOSED: "ERROR_HANDLES_CLOSED",
}
ERROR_CODES: dict[str, int] = {name: code for code, name in ERROR_NAMES.items()}

# --- options ---------------------------------------------------------------

SOL_SOCKET = 0xFFFF
SO_LINGER = 0x0080
SO_DONTLINGER = ~SO_LINGER & 0xFFFFFFFF

FD_READ = 0x01
FD_WRITE = 0x02
FD_CLOSE = 0x20
FD_ALL = FD_READ | FD_WRITE | FD_CLOSE
#: Bit order, used when several messages are posted by one registration.
FD_NAMES: dict[int, str] = {FD_READ: "FD_READ", FD_WRITE: "FD_WRITE", FD_CLOSE: "FD_CLOSE"}
FD_BITS: dict[str, int] = {name: bit for bit, name in FD_NAMES.items()}

SD_RECEIVE = 0
SD_SEND = 1
SD_BOTH = 2
SD_NAMES: dict[str, int] = {"SD_RECEIVE": SD_RECEIVE, "SD_SEND": SD_SEND, "SD_BOTH": SD_BOTH}

# --- limits (SEMANTICS.md section 2) -----------------------------------------

MAX_U31 = 2**31 - 1
MAX_U32 = 2**32 - 1
THREADS = 4
PROCESSES = 2
#: Thread -> process: t0, t1 in p0; t2, t3 in p1.
THREAD_PROCESS = (0, 0, 1, 1)


class Op(IntEnum):
    """Step opcodes.  The numbering is part of the lowered program format."""

    STARTUP = 1
    CLEANUP = 2
    SOCKET = 3
    BIND = 4
    CONNECT = 5
    SETSOCKOPT_LINGER = 6
    SETSOCKOPT_DONTLINGER = 7
    GETSOCKOPT_LINGER = 8
    GETSOCKOPT_DONTLINGER = 9
    IOCTLSOCKET_FIONBIO = 10
    SEND = 11
    RECV = 12
    WSASEND = 13
    WSARECV = 14
    SHUTDOWN = 15
    ASYNCSELECT = 16
    DUPLICATE = 17
    CLOSESOCKET = 18
    CANCELBLOCKING = 19
    GETLASTERROR = 20
    GETMESSAGE = 21
    SLEEPEX = 22
    ADVANCE = 23
    NET_DOWN = 24
    NET_UP = 25
    PEER_RECV = 26
    PEER_SEND = 27
    PEER_CLOSE = 28
    PEER_RESET = 29
    OVL = 30


#: Steps that a thread makes (the rest are environment steps and observations).
THREAD_OPS = frozenset(op for op in Op if op < Op.ADVANCE)
#: Calls whose first argument is a descriptor.
DESCRIPTOR_OPS = frozenset(
    {
        Op.BIND, Op.CONNECT, Op.SETSOCKOPT_LINGER, Op.SETSOCKOPT_DONTLINGER,
        Op.GETSOCKOPT_LINGER, Op.GETSOCKOPT_DONTLINGER, Op.IOCTLSOCKET_FIONBIO,
        Op.SEND, Op.RECV, Op.WSASEND, Op.WSARECV, Op.SHUTDOWN, Op.ASYNCSELECT,
        Op.DUPLICATE, Op.CLOSESOCKET,
    }
)  # fmt: skip
PEER_OPS = frozenset({Op.PEER_RECV, Op.PEER_SEND, Op.PEER_CLOSE, Op.PEER_RESET})


class SockType(IntEnum):
    STREAM = 1
    DGRAM = 2


class Lifecycle(IntEnum):
    OPEN = 1
    CLOSING = 2
    DESTROYED = 3


class OpKind(IntEnum):
    """Kinds of operation (SEMANTICS.md section 1)."""

    SEND = 1
    RECV = 2
    WSASEND = 3
    WSARECV = 4
    LINGER_CLOSE = 5


OPKIND_NAMES = {
    OpKind.SEND: "send",
    OpKind.RECV: "recv",
    OpKind.WSASEND: "wsasend",
    OpKind.WSARECV: "wsarecv",
    OpKind.LINGER_CLOSE: "linger-close",
}
#: The call name a completion event prints for a blocking operation.
BLOCKING_CALL_NAMES = {OpKind.SEND: "send", OpKind.RECV: "recv", OpKind.LINGER_CLOSE: "closesocket"}


class Mode(IntEnum):
    BLOCKING = 1
    EVENT = 2
    ROUTINE = 3


class Status(IntEnum):
    PENDING = 1
    DONE = 2
    FAILED = 3


class Note(IntEnum):
    NONE = 0
    UNSIGNALED = 1
    SIGNALED = 2
    ROUTINE_NONE = 3
    ROUTINE_QUEUED = 4
    ROUTINE_RAN = 5


NOTE_NAMES = {
    Note.UNSIGNALED: "unsignaled",
    Note.SIGNALED: "signaled",
    Note.ROUTINE_NONE: "routine-none",
    Note.ROUTINE_QUEUED: "routine-queued",
    Note.ROUTINE_RAN: "routine-ran",
}
