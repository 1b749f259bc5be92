"""Raw POSIX socket calls through ctypes, each returning (ret, errno).

The Linux engine calls the C library directly, by descriptor number, so that
what it measures is the kernel's behaviour and not Python's socket object
(which caches blocking state and turns errors into exceptions).  ctypes
releases the GIL around each call, so a blocking ``recv`` in one worker
thread does not stop the others.  ``errno`` is read right after each call, in
the calling thread (ctypes keeps a per-thread copy).
"""

from __future__ import annotations

import ctypes
import os
import socket

_libc = ctypes.CDLL(None, use_errno=True)

AF_INET = socket.AF_INET
SOCK_STREAM = socket.SOCK_STREAM
SOCK_DGRAM = socket.SOCK_DGRAM
SOL_SOCKET = socket.SOL_SOCKET
SO_LINGER = socket.SO_LINGER
MSG_NOSIGNAL = socket.MSG_NOSIGNAL
MSG_DONTWAIT = socket.MSG_DONTWAIT
FIONBIO = 0x5421
#: ioctl: bytes in the send queue not yet acknowledged by the receiver
SIOCOUTQ = 0x5411
LOOPBACK = 0x7F000001


class Linger(ctypes.Structure):
    _fields_ = [("l_onoff", ctypes.c_int), ("l_linger", ctypes.c_int)]


class SockaddrIn(ctypes.Structure):
    _fields_ = [
        ("sin_family", ctypes.c_ushort),
        ("sin_port", ctypes.c_uint16),
        ("sin_addr", ctypes.c_uint32),
        ("sin_zero", ctypes.c_char * 8),
    ]


def _fn(name: str, res: type, *args: type) -> ctypes._CFuncPtr:  # type: ignore[name-defined]
    f = getattr(_libc, name)
    f.restype = res
    f.argtypes = list(args)
    return f


_int, _ptr, _size = ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t
_socket = _fn("socket", _int, _int, _int, _int)
_bind = _fn("bind", _int, _int, _ptr, ctypes.c_uint)
_connect = _fn("connect", _int, _int, _ptr, ctypes.c_uint)
_getsockname = _fn("getsockname", _int, _int, _ptr, _ptr)
_setsockopt = _fn("setsockopt", _int, _int, _int, _int, _ptr, ctypes.c_uint)
_getsockopt = _fn("getsockopt", _int, _int, _int, _int, _ptr, _ptr)
_send = _fn("send", ctypes.c_ssize_t, _int, _ptr, _size, _int)
_recv = _fn("recv", ctypes.c_ssize_t, _int, _ptr, _size, _int)
_shutdown = _fn("shutdown", _int, _int, _int)
_close = _fn("close", _int, _int)
_dup = _fn("dup", _int, _int)
_ioctl = _fn("ioctl", _int, _int, ctypes.c_ulong, _ptr)

Ret = tuple[int, int]


def _done(ret: int) -> Ret:
    return (int(ret), ctypes.get_errno() if ret < 0 else 0)


def last_errno() -> int:
    """This thread's errno as the last ctypes call left it (not reset on success)."""
    return ctypes.get_errno()


def clear_errno() -> int:
    """Set this thread's errno to 0 (a worker starting a new program)."""
    return ctypes.set_errno(0)


def loopback(port: int) -> SockaddrIn:
    return SockaddrIn(AF_INET, socket.htons(port), socket.htonl(LOOPBACK), b"")


class Buffers:
    """One zeroed buffer per direction, grown on demand and shared by threads
    (the contents never matter)."""

    def __init__(self) -> None:
        self._buf = ctypes.create_string_buffer(1)

    def get(self, n: int) -> ctypes.Array[ctypes.c_char]:
        if len(self._buf) < n:
            self._buf = ctypes.create_string_buffer(n)
        return self._buf


def socket_(kind: int) -> Ret:
    return _done(_socket(AF_INET, kind, 0))


def bind(fd: int, port: int) -> tuple[int, int, int]:
    addr = loopback(port)
    ret, err = _done(_bind(fd, ctypes.byref(addr), ctypes.sizeof(addr)))
    if ret != 0:
        return ret, err, 0
    size = ctypes.c_uint(ctypes.sizeof(addr))
    _getsockname(fd, ctypes.byref(addr), ctypes.byref(size))
    return 0, 0, socket.ntohs(addr.sin_port)


def connect(fd: int, port: int) -> Ret:
    addr = loopback(port)
    return _done(_connect(fd, ctypes.byref(addr), ctypes.sizeof(addr)))


def set_linger(fd: int, onoff: int, secs: int) -> Ret:
    value = Linger(onoff, secs)
    return _done(_setsockopt(fd, SOL_SOCKET, SO_LINGER, ctypes.byref(value), 8))


def get_linger(fd: int) -> tuple[int, int, int, int]:
    value = Linger(-1, -1)
    size = ctypes.c_uint(8)
    ret, err = _done(
        _getsockopt(fd, SOL_SOCKET, SO_LINGER, ctypes.byref(value), ctypes.byref(size))
    )
    return ret, err, value.l_onoff, value.l_linger


def fionbio(fd: int, on: int) -> Ret:
    value = ctypes.c_int(1 if on else 0)
    return _done(_ioctl(fd, FIONBIO, ctypes.byref(value)))


def unacked(fd: int) -> int:
    """Bytes sent on ``fd`` that the receiver has not acknowledged (-1 on error)."""
    value = ctypes.c_int(0)
    ret = _ioctl(fd, SIOCOUTQ, ctypes.byref(value))
    return -1 if ret < 0 else value.value


def send(fd: int, buf: ctypes.Array[ctypes.c_char], n: int, flags: int = 0) -> Ret:
    return _done(_send(fd, buf, n, flags | MSG_NOSIGNAL))


def recv(fd: int, buf: ctypes.Array[ctypes.c_char], n: int, flags: int = 0) -> Ret:
    return _done(_recv(fd, buf, n, flags))


def shutdown(fd: int, how: int) -> Ret:
    return _done(_shutdown(fd, how))


def close(fd: int) -> Ret:
    return _done(_close(fd))


def dup(fd: int) -> Ret:
    return _done(_dup(fd))


def is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def abort_close(fd: int) -> None:
    """Close with a reset (linger {1, 0}); errors are ignored."""
    set_linger(fd, 1, 0)
    _close(fd)
