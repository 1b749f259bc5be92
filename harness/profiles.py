"""Profiles: named sets of behaviour switches (SEMANTICS.md section 10).

A profile is data.  Both engines read the same fields, and a profile changes
behaviour in no other way.  Limits (section 2) live here too, since a program
header sets both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import IntEnum

from harness.constants import (
    ERROR_CONNECTION_ABORTED,
    MAX_U31,
    WSA_OPERATION_ABORTED,
    WSAECONNABORTED,
    WSAECONNRESET,
)


class CancelScope(IntEnum):
    #: At every closesocket, P's pending operations issued through (P, S).
    DESCRIPTOR = 1
    #: Only when the last descriptor closes: every pending operation on the socket.
    LAST_REFERENCE = 2


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

PROFILES: dict[str, Profile] = {p.name: p for p in (DOCUMENTED, WINDOWS)}
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


#: limit name -> (minimum, maximum)
LIMIT_RANGES: dict[str, tuple[int, int]] = {
    "sockets": (0, 1048576),
    "descriptors": (1, 1048576),
    "sndbuf": (0, MAX_U31),
    "window": (0, MAX_U31),
}
DEFAULT_LIMITS = Limits()
