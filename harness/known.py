"""Divergences the project keeps on purpose, in one place.

Between the ``documented`` and ``windows`` profiles every difference comes
from one switch (SEMANTICS.md section 10).  A reproducer attributed to these
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
        Known("cancel_scope", ("CS-7", "CS-D"),
              "ev C6-C8: Windows cancels pending I/O only when the last handle closes"),
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
