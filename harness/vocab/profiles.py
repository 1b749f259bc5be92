"""Profiles: named sets of behaviour switches (SEMANTICS.md section 10).

A profile is data.  Both engines read the same fields, and a profile changes
behaviour in no other way.  Limits (section 2) live here too, since a program
header sets both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum

from harness.vocab.constants import (
    ERROR_CONNECTION_ABORTED,
    ERROR_HANDLES_CLOSED,
    WSA_OPERATION_ABORTED,
    WSAECONNABORTED,
    WSAECONNRESET,
    WSAEINTR,
    WSAEINVAL,
)
from harness.vocab.ranges import LIMIT_RANGES as LIMIT_RANGES  # the parser reads them here
from harness.vocab.ranges import check_limits


class CancelScope(IntEnum):
    #: At every closesocket, P's pending operations issued through (P, S).
    DESCRIPTOR = 1
    #: Only when the last descriptor closes: every pending operation on the socket.
    LAST_REFERENCE = 2
    #: Never; a blocked call keeps its socket alive (docs/profiles.md PF-12).
    NONE = 3


class FdCloseTiming(IntEnum):
    #: A FIN's FD_CLOSE waits until recv_queue is empty.
    AFTER_DATA = 1
    #: FD_CLOSE is posted as soon as FIN arrives.
    IMMEDIATE = 2


class DataAfterClose(IntEnum):
    #: Peer data for a closing or destroyed socket is dropped.
    DISCARD = 1
    #: Peer data for a closing or destroyed socket resets the connection.
    RESET = 2


class CheckOrder(IntEnum):
    #: CS-E1, E2, E3, E4 (SEMANTICS.md section 4).
    INITIALISED_FIRST = 1
    #: CS-E3 first for calls that take a descriptor (PF-2).
    DESCRIPTOR_FIRST = 2


class LingerOption(IntEnum):
    #: SEMANTICS.md section 5.1.
    WINSOCK = 1
    #: onoff stored as 0/1, onoff=0 keeps secs, datagram accepted (PF-3a).
    BSD = 2
    #: As BSD, and SO_DONTLINGER V is SO_LINGER {V == 0, 0} (PF-3b).
    WINE = 3


class LingerClose(IntEnum):
    #: SEMANTICS.md section 8.
    WINSOCK = 1
    #: No CS-6/CS-9f, and no reset at the linger deadline (PF-4).
    BSD = 2


class ResetReporting(IntEnum):
    #: Every transfer call fails with WSAECONNRESET (TX-2).
    STICKY = 1
    #: The first call gets the error, later ones see end of file / EPIPE (PF-5a-d).
    ONCE = 2
    #: recv reads a reset as end of file; sends still fail (PF-5e).
    EOF = 3


class PeerCloseUnread(IntEnum):
    #: peer_close is a FIN (PC-1).
    FIN = 1
    #: peer_close with unread data is a reset (PF-7).
    RESET = 2


class PortSpace(IntEnum):
    #: BI-2: a port is held against sockets of either type.
    SHARED = 1
    #: Stream and datagram ports are separate (PF-8).
    PER_TYPE = 2


class RecvAfterShutdown(IntEnum):
    #: TX-3: WSAESHUTDOWN.
    ERROR = 1
    #: Queued data, then 0 (PF-9).
    DRAIN = 2


class ShutdownUnconnected(IntEnum):
    #: SD-2: WSAENOTCONN, nothing recorded.
    ERROR = 1
    #: WSAENOTCONN, but sd_send/sd_recv are set (PF-10).
    RECORDS = 2


class LastErrorOnSuccess(IntEnum):
    #: A successful call sets last_error to 0.
    CLEAR = 1
    #: A successful call leaves last_error alone (PF-11).
    KEEP = 2


class CleanupClose(IntEnum):
    #: Cleanup resets every connection (CU-3).
    RESET = 1
    #: Cleanup closes each descriptor as closesocket would (PF-14).
    AS_CLOSESOCKET = 2


class CancelBlocking(IntEnum):
    #: WSACancelBlockingCall as SEMANTICS.md section 5.1.
    CHECKED = 1
    #: Always 0, no effect (PF-15).
    STUB = 2


@dataclass(frozen=True)
class Profile:
    """One named set of switches.  Every field is a switch both engines read."""

    name: str
    cancel_scope: CancelScope
    cancel_status: int
    cancel_notifies: bool
    fd_close_reset_error: int
    fd_close_timing: FdCloseTiming
    data_after_close: DataAfterClose
    # docs/profiles.md: the switches the measured profiles need.
    startup_required: bool = True
    check_order: CheckOrder = CheckOrder.INITIALISED_FIRST
    linger_option: LingerOption = LingerOption.WINSOCK
    linger_close: LingerClose = LingerClose.WINSOCK
    reset_reporting: ResetReporting = ResetReporting.STICKY
    reset_keeps_received: bool = False
    peer_close_unread: PeerCloseUnread = PeerCloseUnread.FIN
    port_space: PortSpace = PortSpace.SHARED
    recv_after_shutdown: RecvAfterShutdown = RecvAfterShutdown.ERROR
    shutdown_unconnected: ShutdownUnconnected = ShutdownUnconnected.ERROR
    last_error_on_success: LastErrorOnSuccess = LastErrorOnSuccess.CLEAR
    blocking_cancel_error: int = WSAEINTR
    cleanup_close: CleanupClose = CleanupClose.RESET
    cancelblocking: CancelBlocking = CancelBlocking.CHECKED

    def switches(self) -> dict[str, object]:
        """The switches by name (everything but the profile's name)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "name"}

    def flipped(self, switch: str, other: Profile) -> Profile:
        """This profile with one switch taken from ``other``."""
        if switch not in self.switches():
            raise KeyError(switch)
        return dataclasses.replace(
            self, name=f"{self.name}+{switch}", **{switch: getattr(other, switch)}
        )


DOCUMENTED = Profile(
    name="documented",
    cancel_scope=CancelScope.DESCRIPTOR,
    cancel_status=WSA_OPERATION_ABORTED,
    cancel_notifies=False,
    fd_close_reset_error=WSAECONNRESET,
    fd_close_timing=FdCloseTiming.AFTER_DATA,
    data_after_close=DataAfterClose.DISCARD,
)

WINDOWS = Profile(
    name="windows",
    cancel_scope=CancelScope.LAST_REFERENCE,
    cancel_status=ERROR_CONNECTION_ABORTED,
    cancel_notifies=True,
    fd_close_reset_error=WSAECONNABORTED,
    fd_close_timing=FdCloseTiming.IMMEDIATE,
    data_after_close=DataAfterClose.RESET,
)

#: Measured on the Linux kernel (docs/profiles.md, docs/conformance.md).
LINUX = dataclasses.replace(
    DOCUMENTED,
    name="linux",
    cancel_scope=CancelScope.NONE,
    startup_required=False,
    linger_option=LingerOption.BSD,
    linger_close=LingerClose.BSD,
    reset_reporting=ResetReporting.ONCE,
    reset_keeps_received=True,
    peer_close_unread=PeerCloseUnread.RESET,
    port_space=PortSpace.PER_TYPE,
    recv_after_shutdown=RecvAfterShutdown.DRAIN,
    shutdown_unconnected=ShutdownUnconnected.RECORDS,
    last_error_on_success=LastErrorOnSuccess.KEEP,
)

#: Measured on Wine's ws2_32 (docs/profiles.md, docs/conformance.md).
WINE = dataclasses.replace(
    DOCUMENTED,
    name="wine",
    cancel_scope=CancelScope.LAST_REFERENCE,
    cancel_status=ERROR_HANDLES_CLOSED,
    cancel_notifies=True,
    fd_close_reset_error=0,
    check_order=CheckOrder.DESCRIPTOR_FIRST,
    linger_option=LingerOption.WINE,
    linger_close=LingerClose.BSD,
    reset_reporting=ResetReporting.EOF,
    reset_keeps_received=True,
    peer_close_unread=PeerCloseUnread.RESET,
    port_space=PortSpace.PER_TYPE,
    blocking_cancel_error=WSAEINVAL,
    cleanup_close=CleanupClose.AS_CLOSESOCKET,
    cancelblocking=CancelBlocking.STUB,
)

#: Measured on lwIP 2.1.3 (Debian's liblwip 2.1.3; docs/profiles.md, docs/conformance.md).
#: Only values a program shows on lwIP differ from documented.
LWIP = dataclasses.replace(
    DOCUMENTED,
    name="lwip",
    startup_required=False,
    linger_option=LingerOption.BSD,
    reset_keeps_received=True,
    peer_close_unread=PeerCloseUnread.RESET,
    port_space=PortSpace.PER_TYPE,
    last_error_on_success=LastErrorOnSuccess.KEEP,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (DOCUMENTED, WINDOWS, LINUX, WINE, LWIP)}
SWITCHES: tuple[str, ...] = tuple(DOCUMENTED.switches())


def get_profile(name: str) -> Profile:
    """Look a profile up by name; raises KeyError with the known names."""
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r} (known: {', '.join(PROFILES)})") from None


@dataclass(frozen=True)
class Limits:
    """System limits (SEMANTICS.md section 2)."""

    sockets: int = 16
    descriptors: int = 64
    sndbuf: int = 8192
    window: int = 65536

    def __post_init__(self) -> None:
        # both engines take their limits from here (harness/vocab/ranges.py)
        check_limits(self.sockets, self.descriptors, self.sndbuf, self.window)


DEFAULT_LIMITS = Limits()
