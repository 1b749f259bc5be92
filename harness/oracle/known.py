"""Divergences the project keeps on purpose, in one place.

Between the named profiles every difference comes from one switch
(SEMANTICS.md section 10, docs/profiles.md).  A reproducer attributed to these
switches is a *known* difference, not a bug; the campaign marks it so.  There
are no known divergences between the two engines: any is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    switch: str
    rules: tuple[str, ...]
    reason: str


KNOWN_PROFILE_DIFFERENCES: dict[str, Known] = {
    k.switch: k
    for k in (
        Known("cancel_scope", ("CS-7", "CS-D", "PF-12a", "PF-12b"),
              "ev C6-C8: Windows cancels pending I/O only when the last handle closes; "
              "c03 c08: Linux never cancels, a blocked call holds the socket"),
        Known("cancel_status", ("CS-7",),
              "ev F7: Windows completes cancelled overlapped I/O with ERROR_CONNECTION_ABORTED"),
        Known("cancel_notifies", ("CS-7", "NT-1"),
              "ev F7, F12: Windows delivers the completion of cancelled overlapped I/O"),
        Known("fd_close_reset_error", ("MS-1", "PX-1"),
              "ev G7: a peer's abortive close gives FD_CLOSE with WSAECONNABORTED"),
        Known("fd_close_timing", ("MS-1", "MS-2"),
              "ev E3: Windows posts FD_CLOSE before the remaining data is read"),
        Known("data_after_close", ("PS-2", "PS-3"),
              "ev E8: data sent to a closed socket resets the connection"),
        # docs/profiles.md: measured on Linux and Wine
        Known("startup_required", ("PF-1", "CS-E1"), "c10: Linux sockets need no WSAStartup"),
        Known("check_order", ("PF-2", "CS-E3"),
              "002: Wine checks the descriptor before initialisation"),
        Known("linger_option", ("PF-3a", "PF-3b", "OPT-1"),
              "012 c15 c17: BSD linger option storage (l_onoff as 0/1, datagram accepted)"),
        Known("linger_close", ("PF-4a", "PF-4b", "CS-6", "CS-9e"),
              "c06 c07: a linger close blocks even when nonblocking; no reset at the deadline"),
        Known("reset_reporting", ("PF-5a", "PF-5b", "PF-5c", "PF-5d", "PF-5e", "TX-2"),
              "c04 c12 c13: a reset is reported once (Linux) or read as end of file (Wine)"),
        Known("reset_keeps_received", ("PF-6", "RS-1"),
              "c01: data that arrived before a reset is still read"),
        Known("peer_close_unread", ("PF-7", "PC-1"),
              "c05: closing with unread data resets the connection"),
        Known("port_space", ("PF-8", "BI-2"), "010: TCP and UDP ports are separate"),
        Known("recv_after_shutdown", ("PF-9", "TX-3"),
              "c16: recv after SHUT_RD drains, then reads 0"),
        Known("shutdown_unconnected", ("PF-10", "SD-2"),
              "014: a failed shutdown of an unconnected socket is still recorded"),
        Known("last_error_on_success", ("PF-11",), "c09: errno survives a successful call"),
        Known("blocking_cancel_error", ("PF-13", "CS-7"),
              "c03: Wine wakes a blocked recv at close with WSAEINVAL"),
        Known("cleanup_close", ("PF-14", "CU-3"),
              "c11 045 047: Wine's WSACleanup closes as closesocket does"),
        Known("cancelblocking", ("PF-15", "CB-1"),
              "004 005: Wine's WSACancelBlockingCall is a stub"),
    )
}  # fmt: skip


def describe(attribution: tuple[str, ...]) -> str:
    """``switch (known: rules; reason)`` for each attributed switch or pair."""
    parts = []
    for item in attribution:
        switches = item.split("+")
        if all(s in KNOWN_PROFILE_DIFFERENCES for s in switches):
            rules = sorted({r for s in switches for r in KNOWN_PROFILE_DIFFERENCES[s].rules})
            parts.append(f"{item} (known difference: {' '.join(rules)})")
        else:
            parts.append(item)
    return ", ".join(parts)
