"""Error names for external engines: POSIX errno -> Winsock error, and names
for the Winsock errors a real stack returns that the model never does.

The errno mapping is the usual one (Winsock's WSAExxx codes are the BSD errno
values plus 10000), with three POSIX-specific choices:
- ``EBADF`` (a closed or never-opened descriptor) is ``WSAENOTSOCK``, what
  Winsock returns for a handle that is not a socket;
- ``EPIPE`` (send after the write side was shut down, or after a reset was
  already reported once) is ``WSAESHUTDOWN``: Winsock has no EPIPE, and
  sending on a shut-down socket is what WSAESHUTDOWN names;
- ``EINPROGRESS`` (a nonblocking connect in progress) is ``WSAEWOULDBLOCK``,
  what Winsock's connect returns then.
An errno with no Winsock counterpart keeps its POSIX name (``ENOENT``) so it
shows up in a comparison instead of being folded into something else.
"""

from __future__ import annotations

import errno as _errno

from harness.vocab.constants import (
    ERROR_NAMES,
    WSAEADDRINUSE,
    WSAECONNABORTED,
    WSAECONNRESET,
    WSAEINPROGRESS,
    WSAEINTR,
    WSAEINVAL,
    WSAEISCONN,
    WSAEMFILE,
    WSAENETDOWN,
    WSAENOBUFS,
    WSAENOPROTOOPT,
    WSAENOTCONN,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSAESHUTDOWN,
    WSAEWOULDBLOCK,
)

WSAEACCES = 10013
WSAEFAULT = 10014
WSAEALREADY = 10037
WSAEDESTADDRREQ = 10039
WSAEMSGSIZE = 10040
WSAEPROTOTYPE = 10041
WSAEAFNOSUPPORT = 10047
WSAEADDRNOTAVAIL = 10049
WSAENETUNREACH = 10051
WSAETIMEDOUT = 10060
WSAECONNREFUSED = 10061
WSAEHOSTUNREACH = 10065
WSA_IO_INCOMPLETE = 996
#: Wine completes an operation cancelled by closing its handle with this
#: (STATUS_HANDLES_CLOSED); Windows gives ERROR_CONNECTION_ABORTED (EVIDENCE F7).
ERROR_HANDLES_CLOSED = 676

#: Winsock errors a real stack can return beyond the model's own (constants.py).
EXTRA_NAMES: dict[int, str] = {
    WSAEACCES: "WSAEACCES",
    WSAEFAULT: "WSAEFAULT",
    WSAEALREADY: "WSAEALREADY",
    WSAEDESTADDRREQ: "WSAEDESTADDRREQ",
    WSAEMSGSIZE: "WSAEMSGSIZE",
    WSAEPROTOTYPE: "WSAEPROTOTYPE",
    WSAEAFNOSUPPORT: "WSAEAFNOSUPPORT",
    WSAEADDRNOTAVAIL: "WSAEADDRNOTAVAIL",
    WSAENETUNREACH: "WSAENETUNREACH",
    WSAETIMEDOUT: "WSAETIMEDOUT",
    WSAECONNREFUSED: "WSAECONNREFUSED",
    WSAEHOSTUNREACH: "WSAEHOSTUNREACH",
    WSA_IO_INCOMPLETE: "WSA_IO_INCOMPLETE",
    ERROR_HANDLES_CLOSED: "ERROR_HANDLES_CLOSED",
}

#: errno -> Winsock error code.
ERRNO_TO_WSA: dict[int, int] = {
    _errno.EWOULDBLOCK: WSAEWOULDBLOCK,  # == EAGAIN on Linux
    _errno.EINPROGRESS: WSAEWOULDBLOCK,
    _errno.EALREADY: WSAEALREADY,
    _errno.EINTR: WSAEINTR,
    _errno.EBADF: WSAENOTSOCK,
    _errno.ENOTSOCK: WSAENOTSOCK,
    _errno.EINVAL: WSAEINVAL,
    _errno.EMFILE: WSAEMFILE,
    _errno.ENFILE: WSAEMFILE,
    _errno.ENOBUFS: WSAENOBUFS,
    _errno.ENOMEM: WSAENOBUFS,
    _errno.ENOPROTOOPT: WSAENOPROTOOPT,
    _errno.EOPNOTSUPP: WSAEOPNOTSUPP,
    _errno.EADDRINUSE: WSAEADDRINUSE,
    _errno.EADDRNOTAVAIL: WSAEADDRNOTAVAIL,
    _errno.ENETDOWN: WSAENETDOWN,
    _errno.ENETUNREACH: WSAENETUNREACH,
    _errno.EHOSTUNREACH: WSAEHOSTUNREACH,
    _errno.ECONNABORTED: WSAECONNABORTED,
    _errno.ECONNRESET: WSAECONNRESET,
    _errno.ECONNREFUSED: WSAECONNREFUSED,
    _errno.EISCONN: WSAEISCONN,
    _errno.ENOTCONN: WSAENOTCONN,
    _errno.EPIPE: WSAESHUTDOWN,
    _errno.ESHUTDOWN: WSAESHUTDOWN,
    _errno.ETIMEDOUT: WSAETIMEDOUT,
    _errno.EACCES: WSAEACCES,
    _errno.EFAULT: WSAEFAULT,
    _errno.EDESTADDRREQ: WSAEDESTADDRREQ,
    _errno.EMSGSIZE: WSAEMSGSIZE,
    _errno.EPROTOTYPE: WSAEPROTOTYPE,
    _errno.EAFNOSUPPORT: WSAEAFNOSUPPORT,
}
assert WSAEINPROGRESS not in ERRNO_TO_WSA.values()  # EINPROGRESS means "would block" here

#: Errors that are not Winsock codes carry this offset so they never collide.
POSIX_ONLY = 1 << 20


def wsa_error(errno_value: int) -> int:
    """The Winsock error for a POSIX errno (0 stays 0).

    An errno with no Winsock counterpart becomes ``POSIX_ONLY + errno``, which
    :func:`error_text` prints by its POSIX name.
    """
    if errno_value == 0:
        return 0
    return ERRNO_TO_WSA.get(errno_value, POSIX_ONLY + errno_value)


def error_text(code: int) -> str:
    """The name of a Winsock error, a POSIX-only error, or the bare number."""
    if code in ERROR_NAMES:
        return ERROR_NAMES[code]
    if code in EXTRA_NAMES:
        return EXTRA_NAMES[code]
    if code > POSIX_ONLY:
        return _errno.errorcode.get(code - POSIX_ONLY, f"errno {code - POSIX_ONLY}")
    return str(code)
