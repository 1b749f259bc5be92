# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled core of wsa-harness: SEMANTICS.md on C structs, one C loop per run.

Written from SEMANTICS.md and docs/decisions.md only (never from the reference
model).  State lives in growable C arrays indexed by id; a step's events go to
a growable int64 buffer, five ints per event (harness/vocab/trace.py layout).

Rule tags: a comment with a rule id in square brackets, ``# [CS-9e]`` (several
on one line: ``# [CS-9e] [PF-4a]``, with prose after them if need be), marks
the code that implements that rule.  The ids are harness/vocab/rules.py's, the ones
the reference model records when the rule decides a step; a bare id in prose
or a docstring is a cross-reference, not a tag.  tests/core/test_core_rules.py
checks that the core tags exactly the ids the reference model applies.
"""

from libc.stdlib cimport calloc, realloc, free, qsort
from libc.string cimport memset, memcpy, memmove
from cpython cimport array as carray
import array as _pyarray

from cpython.bool cimport PyBool_Check
from cpython.long cimport PyLong_Check

from harness.vocab.errors import WorkLimitExceeded
from harness.vocab.ranges import LIMIT_RANGES as _LIMIT_RANGES
from harness.vocab.ranges import STEP_RANGES as _STEP_RANGES
from harness.vocab.ranges import check_limits as _check_limits
from harness.vocab.ranges import check_step as _check_step


ctypedef long long i64
ctypedef unsigned char flag

cdef extern from "Python.h":
    long long PyLong_AsLongLongAndOverflow(object o, int* overflow) except? -1

cdef extern from "<stdint.h>":
    const i64 I64_MAX "INT64_MAX"

# setup.py defines the C macro WSA_DEBUG=1 for debug builds
# (WSA_HARNESS_CORE_DEBUG=1): every step then checks the invariants.
cdef extern from *:
    """
    #ifndef WSA_DEBUG
    #define WSA_DEBUG 0
    #endif
    """
    const int WSA_DEBUG

# --- constants (SEMANTICS.md section 12; harness/vocab/constants.py; harness/vocab/trace.py)

cdef enum:
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
    ERROR_HANDLES_CLOSED = 676

cdef enum:
    FD_READ = 0x01
    FD_WRITE = 0x02
    FD_CLOSE = 0x20

cdef enum:
    OP_STARTUP = 1
    OP_CLEANUP = 2
    OP_SOCKET = 3
    OP_BIND = 4
    OP_CONNECT = 5
    OP_SETSOCKOPT_LINGER = 6
    OP_SETSOCKOPT_DONTLINGER = 7
    OP_GETSOCKOPT_LINGER = 8
    OP_GETSOCKOPT_DONTLINGER = 9
    OP_IOCTLSOCKET_FIONBIO = 10
    OP_SEND = 11
    OP_RECV = 12
    OP_WSASEND = 13
    OP_WSARECV = 14
    OP_SHUTDOWN = 15
    OP_ASYNCSELECT = 16
    OP_DUPLICATE = 17
    OP_CLOSESOCKET = 18
    OP_CANCELBLOCKING = 19
    OP_GETLASTERROR = 20
    OP_GETMESSAGE = 21
    OP_SLEEPEX = 22
    OP_ADVANCE = 23
    OP_NET_DOWN = 24
    OP_NET_UP = 25
    OP_PEER_RECV = 26
    OP_PEER_SEND = 27
    OP_PEER_CLOSE = 28
    OP_PEER_RESET = 29
    OP_OVL = 30

cdef enum:
    T_STREAM = 1
    T_DGRAM = 2
    LC_OPEN = 1
    LC_CLOSING = 2
    LC_DESTROYED = 3
    K_SEND = 1
    K_RECV = 2
    K_WSASEND = 3
    K_WSARECV = 4
    K_LINGER = 5
    M_BLOCKING = 1
    M_EVENT = 2
    M_ROUTINE = 3
    ST_PENDING = 1
    ST_DONE = 2
    ST_FAILED = 3
    N_NONE = 0
    N_UNSIGNALED = 1
    N_SIGNALED = 2
    N_ROUTINE_NONE = 3
    N_ROUTINE_QUEUED = 4
    N_ROUTINE_RAN = 5

cdef enum:
    SCOPE_DESCRIPTOR = 1
    SCOPE_LAST_REFERENCE = 2
    SCOPE_NONE = 3
    TIMING_AFTER_DATA = 1
    TIMING_IMMEDIATE = 2
    DAC_DISCARD = 1
    DAC_RESET = 2

# docs/profiles.md switches (harness/vocab/profiles.py IntEnum values)
cdef enum:
    ORDER_INITIALISED_FIRST = 1
    ORDER_DESCRIPTOR_FIRST = 2
    LOPT_WINSOCK = 1
    LOPT_BSD = 2
    LOPT_WINE = 3
    LCLOSE_WINSOCK = 1
    LCLOSE_BSD = 2
    RR_STICKY = 1
    RR_ONCE = 2
    RR_EOF = 3
    PCU_FIN = 1
    PCU_RESET = 2
    PORTS_SHARED = 1
    PORTS_PER_TYPE = 2
    RAS_ERROR = 1
    RAS_DRAIN = 2
    SDU_ERROR = 1
    SDU_RECORDS = 2
    LEOS_CLEAR = 1
    LEOS_KEEP = 2
    CUC_RESET = 1
    CUC_AS_CLOSESOCKET = 2
    CB_CHECKED = 1
    CB_STUB = 2

cdef enum:
    R_VALUE = 1
    R_SOCKET_ERROR = 2
    R_INVALID_SOCKET = 3
    R_DIRECT = 4
    R_LINGER = 5
    R_DONTLINGER = 6
    R_LASTERROR = 7
    R_MESSAGE = 8
    R_NONE = 9
    R_BLOCKED = 10
    R_REJECTED = 11
    R_OK = 12
    R_OVL_PENDING = 13
    R_OVL_DONE = 14
    R_OVL_FAILED = 15

cdef enum:
    E_COMPLETE = 1
    E_OVL = 2
    E_ROUTINE_RAN = 3
    E_POSTED = 4
    E_FIN = 5
    E_RESET = 6
    E_DESTROYED = 7

# the world's shape and the layouts of the shared formats (harness/vocab/constants.py,
# harness/vocab/trace.py, harness/lang/program.py)
cdef enum:
    THREADS = 4                     # t0..t3
    PROCESSES = 2                   # p0, p1
    THREADS_PER_PROCESS = 2         # t0, t1 in p0; t2, t3 in p1
    DESC_STRIDE = 4                 # descriptor values are the multiples of 4 (SO-3)
    SOCKET_ERROR = -1
    INVALID_DESCRIPTOR = -1         # INVALID_SOCKET, as a bound value or a target
    SD_RECEIVE = 0
    SD_SEND = 1
    SD_BOTH = 2
    PORT_MAX = 65535
    LINGER_MAX = 65535              # l_onoff and l_linger are u_short
    NPORTS = PORT_MAX + 1           # the port bitmap's bits per port space
    RESULT_WIDTH = 4                # rkind, r1, r2, r3
    EVENT_WIDTH = 5                 # ekind, e1, e2, e3, e4
    STEP_HEADER = RESULT_WIDTH + 2  # bound, the result, nevents: then the events
    SOCKET_WIDTH = 29               # snapshot fields per socket (trace.SOCKET_FIELDS)
    PEER_WIDTH = 10                 # ... per peer (trace.PEER_FIELDS)
    OP_WIDTH = 13                   # ... per operation (trace.OP_FIELDS)

cdef enum:
    TARGET_NONE = 0
    TARGET_SLOT = 1
    TARGET_RAW = 2
    TARGET_INVALID = 3
    RECORD_WIDTH = 8                # op, thread, bind, target kind, target, x1, x2, x3

include "_core_tables.pxi"

# --- the enums by name (tests/core/test_core_vocab.py) -------------------------------
# Every constant of the core's `cdef enum` blocks, name -> value, so that a test
# can pin each to the Python vocabulary (harness/vocab/constants.py, trace.py,
# program.py, profiles.py).  Built once at import; nothing on the hot path reads
# it; the test also checks that it lists exactly the members of those blocks.

_VOCABULARY = (
    ("WSAEINTR", WSAEINTR), ("WSAEINVAL", WSAEINVAL), ("WSAEMFILE", WSAEMFILE),
    ("WSAEWOULDBLOCK", WSAEWOULDBLOCK), ("WSAEINPROGRESS", WSAEINPROGRESS),
    ("WSAENOTSOCK", WSAENOTSOCK), ("WSAENOPROTOOPT", WSAENOPROTOOPT),
    ("WSAEOPNOTSUPP", WSAEOPNOTSUPP), ("WSAEADDRINUSE", WSAEADDRINUSE),
    ("WSAENETDOWN", WSAENETDOWN), ("WSAECONNABORTED", WSAECONNABORTED),
    ("WSAECONNRESET", WSAECONNRESET), ("WSAENOBUFS", WSAENOBUFS), ("WSAEISCONN", WSAEISCONN),
    ("WSAENOTCONN", WSAENOTCONN), ("WSAESHUTDOWN", WSAESHUTDOWN),
    ("WSAVERNOTSUPPORTED", WSAVERNOTSUPPORTED), ("WSANOTINITIALISED", WSANOTINITIALISED),
    ("WSA_IO_PENDING", WSA_IO_PENDING), ("WSA_OPERATION_ABORTED", WSA_OPERATION_ABORTED),
    ("ERROR_HANDLES_CLOSED", ERROR_HANDLES_CLOSED), ("FD_READ", FD_READ), ("FD_WRITE", FD_WRITE),
    ("FD_CLOSE", FD_CLOSE), ("OP_STARTUP", OP_STARTUP), ("OP_CLEANUP", OP_CLEANUP),
    ("OP_SOCKET", OP_SOCKET), ("OP_BIND", OP_BIND), ("OP_CONNECT", OP_CONNECT),
    ("OP_SETSOCKOPT_LINGER", OP_SETSOCKOPT_LINGER),
    ("OP_SETSOCKOPT_DONTLINGER", OP_SETSOCKOPT_DONTLINGER),
    ("OP_GETSOCKOPT_LINGER", OP_GETSOCKOPT_LINGER),
    ("OP_GETSOCKOPT_DONTLINGER", OP_GETSOCKOPT_DONTLINGER),
    ("OP_IOCTLSOCKET_FIONBIO", OP_IOCTLSOCKET_FIONBIO), ("OP_SEND", OP_SEND), ("OP_RECV", OP_RECV),
    ("OP_WSASEND", OP_WSASEND), ("OP_WSARECV", OP_WSARECV), ("OP_SHUTDOWN", OP_SHUTDOWN),
    ("OP_ASYNCSELECT", OP_ASYNCSELECT), ("OP_DUPLICATE", OP_DUPLICATE),
    ("OP_CLOSESOCKET", OP_CLOSESOCKET), ("OP_CANCELBLOCKING", OP_CANCELBLOCKING),
    ("OP_GETLASTERROR", OP_GETLASTERROR), ("OP_GETMESSAGE", OP_GETMESSAGE),
    ("OP_SLEEPEX", OP_SLEEPEX), ("OP_ADVANCE", OP_ADVANCE), ("OP_NET_DOWN", OP_NET_DOWN),
    ("OP_NET_UP", OP_NET_UP), ("OP_PEER_RECV", OP_PEER_RECV), ("OP_PEER_SEND", OP_PEER_SEND),
    ("OP_PEER_CLOSE", OP_PEER_CLOSE), ("OP_PEER_RESET", OP_PEER_RESET), ("OP_OVL", OP_OVL),
    ("T_STREAM", T_STREAM), ("T_DGRAM", T_DGRAM), ("LC_OPEN", LC_OPEN), ("LC_CLOSING", LC_CLOSING),
    ("LC_DESTROYED", LC_DESTROYED), ("K_SEND", K_SEND), ("K_RECV", K_RECV),
    ("K_WSASEND", K_WSASEND), ("K_WSARECV", K_WSARECV), ("K_LINGER", K_LINGER),
    ("M_BLOCKING", M_BLOCKING), ("M_EVENT", M_EVENT), ("M_ROUTINE", M_ROUTINE),
    ("ST_PENDING", ST_PENDING), ("ST_DONE", ST_DONE), ("ST_FAILED", ST_FAILED), ("N_NONE", N_NONE),
    ("N_UNSIGNALED", N_UNSIGNALED), ("N_SIGNALED", N_SIGNALED), ("N_ROUTINE_NONE", N_ROUTINE_NONE),
    ("N_ROUTINE_QUEUED", N_ROUTINE_QUEUED), ("N_ROUTINE_RAN", N_ROUTINE_RAN),
    ("SCOPE_DESCRIPTOR", SCOPE_DESCRIPTOR), ("SCOPE_LAST_REFERENCE", SCOPE_LAST_REFERENCE),
    ("SCOPE_NONE", SCOPE_NONE), ("TIMING_AFTER_DATA", TIMING_AFTER_DATA),
    ("TIMING_IMMEDIATE", TIMING_IMMEDIATE), ("DAC_DISCARD", DAC_DISCARD), ("DAC_RESET", DAC_RESET),
    ("ORDER_INITIALISED_FIRST", ORDER_INITIALISED_FIRST),
    ("ORDER_DESCRIPTOR_FIRST", ORDER_DESCRIPTOR_FIRST), ("LOPT_WINSOCK", LOPT_WINSOCK),
    ("LOPT_BSD", LOPT_BSD), ("LOPT_WINE", LOPT_WINE), ("LCLOSE_WINSOCK", LCLOSE_WINSOCK),
    ("LCLOSE_BSD", LCLOSE_BSD), ("RR_STICKY", RR_STICKY), ("RR_ONCE", RR_ONCE), ("RR_EOF", RR_EOF),
    ("PCU_FIN", PCU_FIN), ("PCU_RESET", PCU_RESET), ("PORTS_SHARED", PORTS_SHARED),
    ("PORTS_PER_TYPE", PORTS_PER_TYPE), ("RAS_ERROR", RAS_ERROR), ("RAS_DRAIN", RAS_DRAIN),
    ("SDU_ERROR", SDU_ERROR), ("SDU_RECORDS", SDU_RECORDS), ("LEOS_CLEAR", LEOS_CLEAR),
    ("LEOS_KEEP", LEOS_KEEP), ("CUC_RESET", CUC_RESET), ("CUC_AS_CLOSESOCKET", CUC_AS_CLOSESOCKET),
    ("CB_CHECKED", CB_CHECKED), ("CB_STUB", CB_STUB), ("R_VALUE", R_VALUE),
    ("R_SOCKET_ERROR", R_SOCKET_ERROR), ("R_INVALID_SOCKET", R_INVALID_SOCKET),
    ("R_DIRECT", R_DIRECT), ("R_LINGER", R_LINGER), ("R_DONTLINGER", R_DONTLINGER),
    ("R_LASTERROR", R_LASTERROR), ("R_MESSAGE", R_MESSAGE), ("R_NONE", R_NONE),
    ("R_BLOCKED", R_BLOCKED), ("R_REJECTED", R_REJECTED), ("R_OK", R_OK),
    ("R_OVL_PENDING", R_OVL_PENDING), ("R_OVL_DONE", R_OVL_DONE), ("R_OVL_FAILED", R_OVL_FAILED),
    ("E_COMPLETE", E_COMPLETE), ("E_OVL", E_OVL), ("E_ROUTINE_RAN", E_ROUTINE_RAN),
    ("E_POSTED", E_POSTED), ("E_FIN", E_FIN), ("E_RESET", E_RESET), ("E_DESTROYED", E_DESTROYED),
    ("THREADS", THREADS), ("PROCESSES", PROCESSES), ("THREADS_PER_PROCESS", THREADS_PER_PROCESS),
    ("DESC_STRIDE", DESC_STRIDE), ("SOCKET_ERROR", SOCKET_ERROR),
    ("INVALID_DESCRIPTOR", INVALID_DESCRIPTOR), ("SD_RECEIVE", SD_RECEIVE), ("SD_SEND", SD_SEND),
    ("SD_BOTH", SD_BOTH), ("PORT_MAX", PORT_MAX), ("LINGER_MAX", LINGER_MAX), ("NPORTS", NPORTS),
    ("RESULT_WIDTH", RESULT_WIDTH), ("EVENT_WIDTH", EVENT_WIDTH), ("STEP_HEADER", STEP_HEADER),
    ("SOCKET_WIDTH", SOCKET_WIDTH), ("PEER_WIDTH", PEER_WIDTH), ("OP_WIDTH", OP_WIDTH),
    ("TARGET_NONE", TARGET_NONE), ("TARGET_SLOT", TARGET_SLOT), ("TARGET_RAW", TARGET_RAW),
    ("TARGET_INVALID", TARGET_INVALID), ("RECORD_WIDTH", RECORD_WIDTH),
)


def _vocabulary():
    """Name -> value of every enum constant of the core (tests/core/test_core_vocab.py)."""
    return dict(_VOCABULARY)


# --- state records ---------------------------------------------------------------

cdef struct Prof:
    int cancel_scope
    i64 cancel_status
    bint cancel_notifies
    i64 fd_close_reset_error
    int fd_close_timing
    int data_after_close
    # docs/profiles.md
    bint startup_required           # PF-1
    int check_order                 # PF-2
    int linger_option               # PF-3
    int linger_close                # PF-4
    int reset_reporting             # PF-5
    bint reset_keeps_received       # PF-6
    int peer_close_unread           # PF-7
    int port_space                  # PF-8
    int recv_after_shutdown         # PF-9
    int shutdown_unconnected        # PF-10
    bint keep_last_error            # PF-11 (last_error_on_success = keep)
    i64 blocking_cancel_error       # PF-13
    int cleanup_close               # PF-14
    int cancelblocking              # PF-15

cdef struct Proc:
    i64 count               # startup_count
    i64 version
    Table tab
    MsgQ msgs

cdef struct Thr:
    i64 last_error
    i64 blocked_in          # op id, 0 = none
    I64Buf routines         # op ids in queue order

cdef struct Sock:
    i64 type, refs, port, onoff, secs
    i64 send_queue, recv_queue
    i64 reg_process, reg_value, reg_mask
    i64 close_error, deadline, lifecycle
    i64 accepted, delivered, discarded
    i64 pend_head, pend_tail          # pending ops on this socket, ascending id
    i64 khead[2]                      # the same, per class: [0] sends, [1] recvs
    i64 ktail[2]
    i64 nwait_send, nwait_recv, linger_op
    i64 nholds                        # ops with holds on this socket (PF-12)
    # the peer (same id), valid when has_peer
    i64 p_window, p_buffered, p_reset_code, p_read, p_dropped
    # flags, one byte each (keeps the record small)
    flag nonblocking, connected, sd_send, sd_recv, fin_sent, peer_fin, reset
    flag write_blocked, close_seen, close_posted, dirty
    flag netheld                      # marked while the network was down
    flag has_peer, p_fin, p_reset, p_closed
    flag reset_reported, p_reset_reported     # PF-5 (reset_reporting = once)
    flag fin_held                             # PF-10: a recorded SD_SEND sends no FIN

cdef struct OpRec:
    i64 kind, thread, eproc, evalue, eserial, sock, n, done
    i64 mode, status, error, note
    bint holds                        # PF-12a: this blocking call holds its socket
    i64 sprev, snext                  # socket's pending list
    i64 kprev, knext                  # socket's pending list of this op's class
    i64 gprev, gnext                  # global pending list

cdef dict _PROF_CACHE = {}     # id(profile) -> (profile, bytes of its Prof)


cdef inline int _op_class(i64 kind) noexcept:
    if kind == K_SEND or kind == K_WSASEND:
        return 0
    if kind == K_RECV or kind == K_WSARECV:
        return 1
    return -1


cdef inline i64 imin(i64 a, i64 b) noexcept:
    return a if a < b else b

cdef int _cmp_i64(const void* a, const void* b) noexcept nogil:
    cdef i64 x = (<const i64*>a)[0]
    cdef i64 y = (<const i64*>b)[0]
    return (x > y) - (x < y)


cdef class Engine:
    """One world (SEMANTICS.md section 1) under one profile and set of limits."""

    cdef:
        Prof prof
        i64 lim_sockets, lim_desc, lim_sndbuf, lim_window
        i64 clock
        bint net_up
        Proc procs[PROCESSES]
        Thr thr[THREADS]
        Sock* socks
        i64 nsocks, cap_socks, live
        OpRec* ops
        i64 nops, cap_ops
        i64 gp_head, gp_tail
        unsigned char* ports              # bitmap of held ports: 2 x NPORTS bits (PF-8)
        I64Buf ev, dirty, scratch, dl     # events, dirty sockets, temp, lingering sockets
        I64Buf netheld                    # sockets marked while the network is down
        I64Buf held                       # op ids with holds (PF-12; a handful at most)
        bint fdread_posted
        bint full_settle
        i64 passes, work_limit, steps_done  # settling passes; the cost check's bound
        i64 serial, inv7_bad
        i64 r_bound, r_kind, r1, r2, r3

    def __cinit__(self, *args, **kwargs):
        cdef int i
        for i in range(PROCESSES):
            self.procs[i].tab.hw = 1        # index 0 is never handed out
        self.net_up = True
        self.ports = NULL       # allocated at the first bind (most runs never bind)
        self.cap_socks = 16
        self.socks = <Sock*>calloc(self.cap_socks, sizeof(Sock))
        self.cap_ops = 16
        self.ops = <OpRec*>calloc(self.cap_ops, sizeof(OpRec))
        if self.socks == NULL or self.ops == NULL:
            raise MemoryError()

    def __init__(self, profile, limits):
        # the ranges both engines share (harness/vocab/ranges.py): checked in C,
        # and by the shared checker, which raises its message, when one is out
        cdef i64 lim[4]
        sockets, descriptors, sndbuf, window = (
            limits.sockets, limits.descriptors, limits.sndbuf, limits.window)
        if not (_as_i64(sockets, &lim[0]) and _as_i64(descriptors, &lim[1])
                and _as_i64(sndbuf, &lim[2]) and _as_i64(window, &lim[3])
                and _limits_in_range(lim)):
            _check_limits(sockets, descriptors, sndbuf, window)
            raise AssertionError(f"the core and harness/vocab/ranges.py disagree on {limits!r}")
        self._configure(profile, lim[0], lim[1], lim[2], lim[3])

    cdef int _configure(self, profile, i64 sockets, i64 descriptors, i64 sndbuf,
                        i64 window) except -1:
        """The profile's switches and the limits (run_bytes passes its preset's)."""
        # Reading twenty switches costs more than a short run: the struct is
        # cached per profile object (frozen dataclasses; a few exist per process).
        hit = _PROF_CACHE.get(id(profile))
        if hit is not None and hit[0] is profile:
            memcpy(&self.prof, <const char*>(<bytes>hit[1]), sizeof(Prof))
        else:
            self._read_profile(profile)
            if len(_PROF_CACHE) >= 64:
                _PROF_CACHE.clear()
            _PROF_CACHE[id(profile)] = (profile, (<char*>&self.prof)[:sizeof(Prof)])
        self.lim_sockets = sockets
        self.lim_desc = descriptors
        self.lim_sndbuf = sndbuf
        self.lim_window = window
        return 0

    cdef int _read_profile(self, profile) except -1:
        memset(&self.prof, 0, sizeof(Prof))
        self.prof.cancel_scope = int(profile.cancel_scope)
        self.prof.cancel_status = int(profile.cancel_status)
        self.prof.cancel_notifies = bool(profile.cancel_notifies)
        self.prof.fd_close_reset_error = int(profile.fd_close_reset_error)
        self.prof.fd_close_timing = int(profile.fd_close_timing)
        self.prof.data_after_close = int(profile.data_after_close)
        self.prof.startup_required = bool(profile.startup_required)
        self.prof.check_order = int(profile.check_order)
        self.prof.linger_option = int(profile.linger_option)
        self.prof.linger_close = int(profile.linger_close)
        self.prof.reset_reporting = int(profile.reset_reporting)
        self.prof.reset_keeps_received = bool(profile.reset_keeps_received)
        self.prof.peer_close_unread = int(profile.peer_close_unread)
        self.prof.port_space = int(profile.port_space)
        self.prof.recv_after_shutdown = int(profile.recv_after_shutdown)
        self.prof.shutdown_unconnected = int(profile.shutdown_unconnected)
        self.prof.keep_last_error = int(profile.last_error_on_success) == LEOS_KEEP
        self.prof.blocking_cancel_error = int(profile.blocking_cancel_error)
        self.prof.cleanup_close = int(profile.cleanup_close)
        self.prof.cancelblocking = int(profile.cancelblocking)
        return 0

    def __dealloc__(self):
        cdef int i
        for i in range(PROCESSES):
            tab_free(&self.procs[i].tab)
            buf_free(&self.procs[i].msgs.b)
        for i in range(THREADS):
            buf_free(&self.thr[i].routines)
        buf_free(&self.ev)
        buf_free(&self.dirty)
        buf_free(&self.scratch)
        buf_free(&self.dl)
        buf_free(&self.netheld)
        buf_free(&self.held)
        free(self.socks)
        free(self.ops)
        free(self.ports)

    # --- Python API -------------------------------------------------------------

    def step(self, op, thread, target, x1, x2, x3):
        """Run one step; returns (bound, rkind, r1, r2, r3, nevents, *events)."""
        cdef i64 i
        cdef i64 a[6]
        memset(a, 0, sizeof(a))
        if not (_as_i64(op, &a[0]) and _as_i64(thread, &a[1]) and _as_i64(target, &a[2])
                and _as_i64(x1, &a[3]) and _as_i64(x2, &a[4]) and _as_i64(x3, &a[5])):
            _refuse(op, thread, target, x1, x2, x3)     # a non-int, or beyond int64
        _validate(a[0], a[1], a[2], a[3], a[4], a[5])
        self._step(a[0], a[1], a[2], a[3], a[4], a[5])
        out = [self.r_bound, self.r_kind, self.r1, self.r2, self.r3, self.ev.n // EVENT_WIDTH]
        for i in range(self.ev.n):
            out.append(self.ev.p[i])
        return tuple(out)

    def snapshot(self):
        """The canonical snapshot (harness/vocab/trace.py layout) as a tuple of ints."""
        cdef I64Buf b
        memset(&b, 0, sizeof(I64Buf))
        try:
            _snapshot_into(self, &b)
            return tuple([b.p[i] for i in range(b.n)])
        finally:
            buf_free(&b)

    def check_invariants(self):
        """SEMANTICS.md section 11 invariants; [] when all hold."""
        return _check_invariants(self)

    @property
    def work(self):
        """Settling passes so far (every pass of _settle_one over a socket)."""
        return self.passes

    def _set_full_settle(self, bint on):
        """Testing aid: the naive settling (every socket, every step, one pass
        at a time) instead of the dirty set and the fast-forward."""
        self.full_settle = on

    # --- small helpers -------------------------------------------------------------

    cdef inline int _emit(self, i64 k, i64 a, i64 b, i64 c, i64 d) except -1:
        cdef i64* p
        if self.ev.n + EVENT_WIDTH > self.ev.cap:
            buf_reserve(&self.ev, EVENT_WIDTH)
        p = self.ev.p + self.ev.n
        p[0] = k
        p[1] = a
        p[2] = b
        p[3] = c
        p[4] = d
        self.ev.n += EVENT_WIDTH
        return 0

    cdef inline int _mark(self, i64 sid) except -1:
        cdef Sock* s = &self.socks[sid]
        if not s.dirty:
            s.dirty = True
            buf_push(&self.dirty, sid)
        if not self.net_up and not s.netheld:
            # its settling may have waited for the network: again at net_up
            s.netheld = True
            buf_push(&self.netheld, sid)
        return 0

    cdef inline int _ok(self, int th, i64 v) except -1:
        self.r_kind = R_VALUE
        self.r1 = v
        if not self.prof.keep_last_error:       # [PF-11]
            self.thr[th].last_error = 0
        return 0

    cdef inline int _err(self, int th, i64 kind, i64 err) except -1:
        self.r_kind = kind
        self.r1 = err
        self.thr[th].last_error = err
        return 0

    cdef i64 _new_socket(self, i64 type) except -1:
        cdef i64 sid, cap
        cdef Sock* q
        self.nsocks += 1
        sid = self.nsocks
        if sid >= self.cap_socks:
            cap = self.cap_socks * 2
            q = <Sock*>realloc(self.socks, <size_t>cap * sizeof(Sock))
            if q == NULL:
                raise MemoryError()
            memset(q + self.cap_socks, 0, <size_t>(cap - self.cap_socks) * sizeof(Sock))
            self.socks = q
            self.cap_socks = cap
        cdef Sock* s = &self.socks[sid]
        s.type = type
        s.refs = 1
        s.reg_process = -1
        s.deadline = -1
        s.lifecycle = LC_OPEN
        self.live += 1
        return sid

    cdef i64 _new_op(self, i64 kind, i64 mode, int th, i64 eproc, i64 evalue,
                     i64 eserial, i64 sid, i64 n) except -1:
        cdef i64 oid, cap
        cdef int cls
        cdef OpRec* q
        cdef OpRec* o
        self.nops += 1
        oid = self.nops
        if oid >= self.cap_ops:
            cap = self.cap_ops * 2
            q = <OpRec*>realloc(self.ops, <size_t>cap * sizeof(OpRec))
            if q == NULL:
                raise MemoryError()
            memset(q + self.cap_ops, 0, <size_t>(cap - self.cap_ops) * sizeof(OpRec))
            self.ops = q
            self.cap_ops = cap
        o = &self.ops[oid]
        o.kind = kind
        o.mode = mode
        o.thread = th
        o.eproc = eproc
        o.evalue = evalue
        o.eserial = eserial
        o.sock = sid
        o.n = n
        o.status = ST_PENDING
        if mode == M_EVENT:
            o.note = N_UNSIGNALED
        elif mode == M_ROUTINE:
            o.note = N_ROUTINE_NONE
        else:
            o.note = N_NONE
        # append to both pending lists (ids only grow, so tails stay sorted)
        cdef Sock* s = &self.socks[sid]
        o.sprev = s.pend_tail
        if s.pend_tail:
            self.ops[s.pend_tail].snext = oid
        else:
            s.pend_head = oid
        s.pend_tail = oid
        cls = _op_class(kind)
        if cls >= 0:
            o.kprev = s.ktail[cls]
            if s.ktail[cls]:
                self.ops[s.ktail[cls]].knext = oid
            else:
                s.khead[cls] = oid
            s.ktail[cls] = oid
        o.gprev = self.gp_tail
        if self.gp_tail:
            self.ops[self.gp_tail].gnext = oid
        else:
            self.gp_head = oid
        self.gp_tail = oid
        if kind == K_SEND or kind == K_WSASEND:
            s.nwait_send += 1
        elif kind == K_RECV or kind == K_WSARECV:
            s.nwait_recv += 1
        if mode == M_BLOCKING:
            self.thr[th].blocked_in = oid
        return oid

    cdef int _unpend(self, i64 oid) except -1:
        cdef OpRec* o = &self.ops[oid]
        cdef Sock* s = &self.socks[o.sock]
        cdef int cls = _op_class(o.kind)
        if cls >= 0:
            if o.kprev:
                self.ops[o.kprev].knext = o.knext
            else:
                s.khead[cls] = o.knext
            if o.knext:
                self.ops[o.knext].kprev = o.kprev
            else:
                s.ktail[cls] = o.kprev
            o.kprev = o.knext = 0
        if o.sprev:
            self.ops[o.sprev].snext = o.snext
        else:
            s.pend_head = o.snext
        if o.snext:
            self.ops[o.snext].sprev = o.sprev
        else:
            s.pend_tail = o.sprev
        if o.gprev:
            self.ops[o.gprev].gnext = o.gnext
        else:
            self.gp_head = o.gnext
        if o.gnext:
            self.ops[o.gnext].gprev = o.gprev
        else:
            self.gp_tail = o.gprev
        o.sprev = o.snext = o.gprev = o.gnext = 0
        if o.kind == K_SEND or o.kind == K_WSASEND:
            s.nwait_send -= 1
        elif o.kind == K_RECV or o.kind == K_WSARECV:
            s.nwait_recv -= 1
        elif o.kind == K_LINGER:
            s.linger_op = 0
        if o.mode == M_BLOCKING:
            self.thr[o.thread].blocked_in = 0
        self._mark(o.sock)
        return 0

    cdef int _notify(self, i64 oid, bint notify) except -1:
        """Set an overlapped op's note at completion."""
        cdef OpRec* o = &self.ops[oid]
        if o.mode == M_EVENT:                   # [NT-1]
            o.note = N_SIGNALED if notify else N_UNSIGNALED
        elif notify:
            o.note = N_ROUTINE_QUEUED
            buf_push(&self.thr[o.thread].routines, oid)
        else:
            o.note = N_ROUTINE_NONE
        return 0

    cdef int _op_done(self, i64 oid, i64 nbytes) except -1:
        """Completion with a count; notified (section 5.2; D5)."""
        self._unpend(oid)
        cdef OpRec* o = &self.ops[oid]
        o.status = ST_DONE
        o.done = nbytes
        o.error = 0
        if o.mode == M_BLOCKING:
            if not self.prof.keep_last_error:   # [PF-11]
                self.thr[o.thread].last_error = 0
            self._emit(E_COMPLETE, o.thread, o.kind, nbytes, 0)
        else:
            self._notify(oid, True)             # [NT-1] a completion is notified (D5)
            self._emit(E_OVL, oid, ST_DONE, nbytes, self.ops[oid].note)
        return 0

    cdef int _op_fail(self, i64 oid, i64 err, bint notify) except -1:
        """Failure; done_bytes reads 0 (D4)."""
        self._unpend(oid)
        cdef OpRec* o = &self.ops[oid]
        o.status = ST_FAILED
        o.done = 0
        o.error = err
        if o.mode == M_BLOCKING:
            self.thr[o.thread].last_error = err
            self._emit(E_COMPLETE, o.thread, o.kind, SOCKET_ERROR, err)
        else:
            self._notify(oid, notify)
            self._emit(E_OVL, oid, ST_FAILED, err, self.ops[oid].note)
        return 0

    cdef inline int _cancel(self, i64 oid, i64 status, bint notifies, i64 berr) except -1:
        """Cancellation as CS-7 describes it; a blocking call completes with berr
        (the profile's blocking_cancel_error, PF-13, or WSAEINTR in cleanup's
        documented-switch CS-7)."""
        if self.ops[oid].mode == M_BLOCKING:
            return self._op_fail(oid, berr, False)      # [PF-13]
        return self._op_fail(oid, status, notifies)

    cdef int _post(self, i64 sid, i64 fd, i64 err) except -1:
        """MS-1."""
        cdef Sock* s = &self.socks[sid]
        cdef i64 p, idx
        if s.reg_process < 0 or (s.reg_mask & fd) == 0 or s.type == T_DGRAM:    # [MS-1]
            return 0
        if fd == FD_READ:                       # [MS-1] one FD_READ per step
            if self.fdread_posted:
                return 0
            self.fdread_posted = True
        p = s.reg_process
        idx = tab_lookup(&self.procs[p].tab, s.reg_value)
        if idx == 0 or self.procs[p].tab.ent[idx].sock != sid:
            self.inv7_bad += 1
        msg_push(&self.procs[p].msgs, fd, s.reg_value, err)
        self._emit(E_POSTED, p, fd, s.reg_value, err)
        return 0

    cdef int _close_handoff(self, i64 sid) except -1:
        """A FIN's FD_CLOSE (D2): handed to MS-1 now if the timing allows."""
        cdef Sock* s = &self.socks[sid]
        # [MS-2] under after_data, with data queued it waits for the recv that empties it
        if self.prof.fd_close_timing == TIMING_IMMEDIATE or s.recv_queue == 0:
            s.close_posted = True
            self._post(sid, FD_CLOSE, s.close_error)
        return 0

    cdef int _after_take(self, i64 sid) except -1:
        """After a recv/wsarecv took data at once: FD_READ, then a deferred FD_CLOSE."""
        cdef Sock* s = &self.socks[sid]
        if s.recv_queue > 0:
            self._post(sid, FD_READ, 0)
        elif s.close_seen and not s.close_posted:      # [MS-2] the deferred FD_CLOSE
            s.close_posted = True
            self._post(sid, FD_CLOSE, s.close_error)
        return 0

    # --- resets and destruction -------------------------------------------------------

    cdef int _reset_ours(self, i64 sid, i64 code) except -1:
        """Resetting a connection from our side (section 7); fails nothing (D12)."""
        cdef Sock* s = &self.socks[sid]
        self._emit(E_RESET, sid, 0, 0, 0)     # [RS-1]
        s.reset = True
        s.p_reset = True
        s.p_reset_code = code
        s.discarded += s.send_queue
        s.send_queue = 0
        if not self.prof.reset_keeps_received:      # [PF-6] keeps the peer's bytes
            s.p_dropped += s.p_buffered
            s.p_buffered = 0
        return 0

    cdef int _destroy(self, i64 sid) except -1:
        """CS-D; the caller completes a linger close on the socket, if any."""
        cdef Sock* s = &self.socks[sid]
        cdef i64 oid, nxt, i
        s.lifecycle = LC_DESTROYED              # [CS-D]
        if s.deadline != -1:
            s.deadline = -1
            for i in range(self.dl.n):
                if self.dl.p[i] == sid:
                    self.dl.p[i] = self.dl.p[self.dl.n - 1]
                    self.dl.n -= 1
                    break
        self.live -= 1
        self._emit(E_DESTROYED, sid, 0, 0, 0)
        oid = s.pend_head
        while oid:
            nxt = self.ops[oid].snext
            if self.ops[oid].kind != K_LINGER:     # [CS-D] all but a linger close
                self._cancel(oid, self.prof.cancel_status, self.prof.cancel_notifies,
                             self.prof.blocking_cancel_error)
            oid = nxt
        return 0

    cdef int _finish_linger(self, i64 sid) except -1:
        """A linger close blocked on sid completes with 0."""
        cdef i64 oid = self.socks[sid].linger_op
        if oid:
            self._op_done(oid, 0)
        return 0

    cdef int _reset_effects(self, i64 sid) except -1:
        """Section 7 peer_reset step 2 (our socket is not destroyed)."""
        cdef Sock* s = &self.socks[sid]
        cdef i64 oid, nxt
        cdef i64 kind
        s.reset = True                          # [PX-1] the reset effects
        s.discarded += s.send_queue
        s.send_queue = 0
        oid = s.pend_head
        while oid:
            nxt = self.ops[oid].snext
            kind = self.ops[oid].kind
            if kind == K_LINGER:
                pass
            elif self.prof.reset_reporting != RR_ONCE:
                self._op_fail(oid, WSAECONNRESET, True)
            elif not self.socks[sid].reset_reported:       # [PF-5b] the first is told
                self.socks[sid].reset_reported = True
                self._op_fail(oid, WSAESHUTDOWN if self.socks[sid].peer_fin else WSAECONNRESET,
                              True)
            elif kind == K_RECV or kind == K_WSARECV:        # then recvs read end of file
                self._op_done(oid, 0)
            else:                                            # and sends get WSAESHUTDOWN
                self._op_fail(oid, WSAESHUTDOWN, True)
            oid = nxt
        s = &self.socks[sid]
        s.close_seen = True
        s.close_error = self.prof.fd_close_reset_error
        s.close_posted = True
        self._post(sid, FD_CLOSE, s.close_error)
        if s.lifecycle == LC_CLOSING:
            self._destroy(sid)
            self._finish_linger(sid)
        return 0

    cdef int _peer_reset(self, i64 sid) except -1:
        """Section 7 peer_reset steps 1-2 (also settling's closed-peer case)."""
        cdef Sock* s = &self.socks[sid]
        self._emit(E_RESET, sid, 0, 0, 0)     # [PX-1]
        s.p_closed = True
        s.p_reset = True
        s.p_dropped += s.p_buffered
        s.p_buffered = 0
        if s.lifecycle != LC_DESTROYED:
            self._reset_effects(sid)
        return 0

    # --- settling (section 6) ------------------------------------------------------------

    cdef int _settle_one(self, i64 sid) except -1:
        cdef Sock* s
        cdef i64 d, oid, nxt, take
        cdef bint changed = True
        while changed:
            self.passes += 1
            if self.work_limit and self.passes > self.work_limit:
                raise WorkLimitExceeded(f"over {self.work_limit} settling passes")
            changed = False
            s = &self.socks[sid]
            # 0. holds whose blocking call ended are released [PF-12b]
            if s.nholds > 0 and s.lifecycle == LC_OPEN:
                if self._release_holds(sid):
                    changed = True
                    s = &self.socks[sid]
            if s.lifecycle == LC_DESTROYED or not s.connected:
                return 0
            if (s.nwait_send > 0 and not self.full_settle and self.lim_sndbuf > 0
                    and s.send_queue == self.lim_sndbuf
                    and self.net_up and not s.reset and not s.p_closed):
                self._fast_forward(sid)
            # 1. delivery [ST-1]
            if self.net_up and not s.reset:
                d = imin(s.send_queue, s.p_window - s.p_buffered)
                if d > 0:
                    changed = True
                    if s.p_closed:              # [ST-1R] data meets a closed peer: reset
                        self._peer_reset(sid)
                        if self.socks[sid].lifecycle == LC_DESTROYED:
                            return 0
                    else:
                        s.delivered += d
                        s.send_queue -= d
                        s.p_buffered += d
            # 2. freed space to waiting sends, in id order [ST-2]
            s = &self.socks[sid]
            oid = s.khead[0]
            while oid:
                nxt = self.ops[oid].knext
                take = imin(self.lim_sndbuf - s.send_queue, self.ops[oid].n - self.ops[oid].done)
                if take > 0:
                    changed = True
                    s.send_queue += take
                    s.accepted += take
                    self.ops[oid].done += take
                if self.ops[oid].done == self.ops[oid].n:
                    changed = True
                    self._op_done(oid, self.ops[oid].n)
                    s = &self.socks[sid]
                oid = nxt
            # 3. FD_WRITE after a would-block [ST-3]
            if s.write_blocked and self.lim_sndbuf - s.send_queue > 0:
                changed = True
                s.write_blocked = False
                self._post(sid, FD_WRITE, 0)
            # 4. FIN [ST-4]
            if (self.net_up and s.send_queue == 0 and s.nwait_send == 0
                    and ((s.sd_send and not s.fin_held) or s.lifecycle == LC_CLOSING)
                    and not s.fin_sent):
                changed = True
                s.fin_sent = True
                s.p_fin = True
                self._emit(E_FIN, sid, 0, 0, 0)
            # 5. a closing socket whose FIN went out is destroyed [ST-5]
            if s.lifecycle == LC_CLOSING and s.fin_sent:
                self._destroy(sid)
                self._finish_linger(sid)
                return 0
        return 0

    cdef bint _release_holds(self, i64 sid) except -1:
        """PF-12b: each op on sid with holds that is no longer pending, in id
        order, drops its hold; refs reaching 0 is the deferred last close."""
        cdef Sock* s = &self.socks[sid]
        cdef i64 i, best, bi, oid
        cdef bint any = False
        while True:
            best = 0
            bi = -1
            for i in range(self.held.n):
                oid = self.held.p[i]
                if (self.ops[oid].sock == sid and self.ops[oid].status != ST_PENDING
                        and (best == 0 or oid < best)):
                    best = oid
                    bi = i
            if best == 0:
                break
            any = True
            self.held.p[bi] = self.held.p[self.held.n - 1]
            self.held.n -= 1
            self.ops[best].holds = False
            s.nholds -= 1
            s.refs -= 1
            if s.refs == 0:                     # [PF-12b] the deferred last close
                _last_close(self, sid, -1, False)
                break
        return any

    cdef int _fast_forward(self, i64 sid) except -1:
        """Apply k passes of settling steps 1-2 at once, when each would move a
        full send queue (sndbuf bytes) to the peer and refill it from the oldest
        waiting send without completing it.  Such passes emit nothing (steps
        3-5 cannot fire while the queue is full), so only the counters change.
        Keeps a tiny sndbuf with a huge window and send from looping."""
        cdef Sock* s = &self.socks[sid]
        cdef i64 oid = s.khead[0]
        cdef i64 b = self.lim_sndbuf
        cdef i64 k, moved
        if oid == 0:
            return 0
        k = imin((s.p_window - s.p_buffered) // b, (self.ops[oid].n - self.ops[oid].done - 1) // b)
        if k <= 0:
            return 0
        moved = k * b
        s.delivered += moved
        s.p_buffered += moved
        s.accepted += moved
        self.ops[oid].done += moved
        return 0

    cdef int _settle(self) except -1:
        cdef i64 i, sid, best, bd
        if self.full_settle:
            for sid in range(1, self.nsocks + 1):
                self._settle_one(sid)
        elif self.dirty.n > 0:
            self.scratch.n = 0
            buf_reserve(&self.scratch, self.dirty.n)
            memcpy(self.scratch.p, self.dirty.p, <size_t>self.dirty.n * sizeof(i64))
            self.scratch.n = self.dirty.n
            if self.scratch.n > 1:
                qsort(self.scratch.p, <size_t>self.scratch.n, sizeof(i64), _cmp_i64)
            for i in range(self.scratch.n):
                self._settle_one(self.scratch.p[i])
        # every socket marked so far is at its fixpoint now
        for i in range(self.dirty.n):
            self.socks[self.dirty.p[i]].dirty = False
        self.dirty.n = 0
        # linger deadlines, in (deadline, socket id) order [CS-9e]
        while self.dl.n > 0:
            best = 0
            bd = -1
            for i in range(self.dl.n):
                sid = self.dl.p[i]
                if self.socks[sid].deadline <= self.clock and (
                        best == 0 or self.socks[sid].deadline < bd
                        or (self.socks[sid].deadline == bd and sid < best)):
                    best = sid
                    bd = self.socks[sid].deadline
            if best == 0:
                break
            if self.prof.linger_close == LCLOSE_BSD:
                # [PF-4b] no reset; the close completes and the socket keeps closing
                self.socks[best].deadline = -1
                for i in range(self.dl.n):
                    if self.dl.p[i] == best:
                        self.dl.p[i] = self.dl.p[self.dl.n - 1]
                        self.dl.n -= 1
                        break
                self._finish_linger(best)
                continue
            self._reset_ours(best, WSAECONNRESET)      # [CS-9e] the time-out resets
            self._destroy(best)
            self._finish_linger(best)
        for i in range(self.dirty.n):
            self.socks[self.dirty.p[i]].dirty = False
        self.dirty.n = 0
        return 0

    # --- one step -------------------------------------------------------------------

    cdef int _step(self, i64 op, i64 th, i64 target, i64 x1, i64 x2, i64 x3) except -1:
        cdef int p
        self.steps_done += 1
        self.work_limit = _work_per_step * self.steps_done
        self.ev.n = 0
        self.fdread_posted = False
        self.r_bound = 0
        self.r_kind = 0
        self.r1 = self.r2 = self.r3 = 0
        if op == OP_OVL:
            self._ovl(target)
            return 0
        if op >= OP_ADVANCE:
            _env(self, op, target, x1)
        else:
            p = <int>(th // THREADS_PER_PROCESS)
            if self.thr[th].blocked_in and self.procs[p].version != 1:     # [REJ-1]
                self.r_kind = R_REJECTED
                if op == OP_SOCKET or op == OP_DUPLICATE:
                    self.r_bound = INVALID_DESCRIPTOR
                return 0      # rejected lines change nothing and do not settle
            _call(self, op, <int>th, p, target, x1, x2)      # no call takes an x3
        self._settle()
        if WSA_DEBUG:
            bad = _check_invariants(self)
            if bad:
                raise AssertionError(f"invariants broken: {bad}")
        return 0

    cdef int _ovl(self, i64 oid) except -1:
        cdef OpRec* o
        # [OVL-1]
        if oid <= 0 or oid > self.nops or self.ops[oid].mode == M_BLOCKING:
            self.r_kind = R_NONE
            return 0
        o = &self.ops[oid]
        if o.status == ST_PENDING:
            self.r_kind = R_OVL_PENDING
        elif o.status == ST_DONE:
            self.r_kind = R_OVL_DONE
            self.r1 = o.done
            self.r2 = o.note
        else:
            self.r_kind = R_OVL_FAILED
            self.r1 = o.error
            self.r2 = o.note
        return 0

    cdef i64 _common(self, int th, int p, int desc, i64 target, i64* idx) except -1:
        """CS-E1..E4 (E3 only when desc); returns the error, or 0.  desc is 0 (no
        descriptor), 1 (a descriptor) or 2 (a descriptor, always in section 4's
        order: closesocket, PF-2)."""
        if desc == 1 and self.prof.check_order == ORDER_DESCRIPTOR_FIRST:    # [PF-2]
            idx[0] = tab_lookup(&self.procs[p].tab, target)
            if idx[0] == 0:
                return WSAENOTSOCK
            desc = 0
        # [CS-E1], never checked under startup_required = false [PF-1]
        if self.procs[p].count == 0 and self.prof.startup_required:
            return WSANOTINITIALISED
        if not self.net_up:                     # [CS-E2]
            return WSAENETDOWN
        if desc:                                # [CS-E3]
            idx[0] = tab_lookup(&self.procs[p].tab, target)
            if idx[0] == 0:
                return WSAENOTSOCK
        if self.procs[p].version == 1 and self.thr[th].blocked_in:     # [CS-E4]
            return WSAEINPROGRESS
        return 0


include "_core_calls.pxi"
include "_core_env.pxi"
include "_core_snapshot.pxi"


# The argument ranges of every op, (thread, target, x1, x2, x3) each, and of
# the four limits, copied from harness/vocab/ranges.py at import; _refuse and
# that module's check_limits raise its errors.
cdef i64 _RANGE_LO[OP_OVL + 1][5]
cdef i64 _RANGE_HI[OP_OVL + 1][5]
cdef i64 _LIMIT_LO[4]
cdef i64 _LIMIT_HI[4]


cdef int _load_ranges() except -1:
    cdef int op, k
    memset(_RANGE_LO, 0, sizeof(_RANGE_LO))
    memset(_RANGE_HI, 0, sizeof(_RANGE_HI))
    for op_obj, spans in _STEP_RANGES.items():
        op = op_obj
        if op < OP_STARTUP or op > OP_OVL or len(spans) != 5:
            raise ImportError(f"harness/vocab/ranges.py: op {op} does not fit the core")
        for k in range(5):
            _RANGE_LO[op][k] = spans[k][0]
            _RANGE_HI[op][k] = spans[k][1]
    if tuple(_LIMIT_RANGES) != ("sockets", "descriptors", "sndbuf", "window"):
        raise ImportError("harness/vocab/ranges.py: the limits are not the core's four")
    for k, span in enumerate(_LIMIT_RANGES.values()):
        _LIMIT_LO[k] = span[0]
        _LIMIT_HI[k] = span[1]
    # the core's arrays are sized by these: a wider range would index past them
    _fits(OP_BIND, 2, 1, PORT_MAX)
    _fits(OP_SETSOCKOPT_LINGER, 2, 0, LINGER_MAX)
    _fits(OP_SETSOCKOPT_LINGER, 3, 0, LINGER_MAX)
    _fits(OP_SOCKET, 2, T_STREAM, T_DGRAM)
    _fits(OP_WSASEND, 3, M_EVENT, M_ROUTINE)
    _fits(OP_WSARECV, 3, M_EVENT, M_ROUTINE)
    for op in range(OP_STARTUP, OP_ADVANCE):
        _fits(op, 0, 0, THREADS - 1)
    for op in range(OP_ADVANCE, OP_OVL + 1):
        _fits(op, 0, -1, -1)
    _fits(OP_ADVANCE, 2, 0, I64_MAX)
    return 0


cdef inline bint _limits_in_range(const i64* lim) noexcept:
    cdef int k
    for k in range(4):
        if lim[k] < _LIMIT_LO[k] or lim[k] > _LIMIT_HI[k]:
            return False
    return True


cdef int _fits(int op, int k, i64 lo, i64 hi) except -1:
    if _RANGE_LO[op][k] < lo or _RANGE_HI[op][k] > hi:
        raise ImportError(f"harness/vocab/ranges.py: op {op} argument {k} range "
                          f"{_RANGE_LO[op][k]}..{_RANGE_HI[op][k]} exceeds the core's {lo}..{hi}")
    return 0


_load_ranges()


cdef inline bint _as_i64(object v, i64* out) except -1:
    """An int (not a bool) that fits int64 into ``out``; False otherwise."""
    cdef int overflow = 0
    if not PyLong_Check(v) or PyBool_Check(v):
        return False
    out[0] = PyLong_AsLongLongAndOverflow(v, &overflow)
    return overflow == 0


cdef int _refuse(op, thread, target, x1, x2, x3) except -1:
    _check_step(op, thread, target, x1, x2, x3)
    raise AssertionError(f"harness/vocab/ranges.py accepts a step the core refuses: "
                         f"{(op, thread, target, x1, x2, x3)}")


cdef inline int _validate(i64 op, i64 thread, i64 target, i64 x1, i64 x2, i64 x3) except -1:
    if (op < OP_STARTUP or op > OP_OVL
            or thread < _RANGE_LO[op][0] or thread > _RANGE_HI[op][0]
            or target < _RANGE_LO[op][1] or target > _RANGE_HI[op][1]
            or x1 < _RANGE_LO[op][2] or x1 > _RANGE_HI[op][2]
            or x2 < _RANGE_LO[op][3] or x2 > _RANGE_HI[op][3]
            or x3 < _RANGE_LO[op][4] or x3 > _RANGE_HI[op][4]):
        _refuse(op, thread, target, x1, x2, x3)
    return 0


cdef carray.array _Q_TEMPLATE = _pyarray.array("q")
cdef i64 _work_per_step = 0


def set_work_limit(per_step):
    """Raise WorkLimitExceeded when a run's settling passes exceed
    ``per_step`` times the steps run so far (0: no limit, the default)."""
    global _work_per_step
    if not isinstance(per_step, int) or per_step < 0:
        raise ValueError(f"bad work limit {per_step!r}")
    _work_per_step = per_step


def run_lowered(lowered, profile, limits, *, _full_settle=False):
    """Run a whole lowered program (harness.lang.program.lower) in one C loop.

    Returns the complete canonical trace (harness/vocab/trace.py) as array('q').
    """
    mv = memoryview(lowered)
    if mv.format != "q":
        mv = mv.cast("B").cast("q")
    cdef const i64[::1] prog = mv
    cdef i64 n = prog.shape[0]
    cdef Engine e = Engine(profile, limits)
    e.full_settle = bool(_full_settle)
    if n < 1 or (n - 1) % RECORD_WIDTH != 0:
        raise ValueError("lowered program: bad length")
    if prog[0] < 0:
        raise ValueError("lowered program: negative slot count")
    return _run_records(e, &prog[0], (n - 1) // RECORD_WIDTH)


cdef carray.array _run_records(Engine e, const i64* prog, i64 nsteps):
    """Run ``nsteps`` lowered records (``prog[0]`` the slot count, then the
    records) on ``e``; returns the canonical trace.  run_lowered and run_bytes
    (_core_decode.pxi) share it."""
    cdef i64 nslots = prog[0]
    cdef i64 k, op, thread, bind, tk, tv, x1, x2, x3
    cdef const i64* rec
    cdef i64* slots = NULL
    cdef I64Buf out
    cdef carray.array res
    memset(&out, 0, sizeof(I64Buf))
    slots = <i64*>calloc(<size_t>(nslots + 1), sizeof(i64))
    if slots == NULL:
        raise MemoryError()
    try:
        buf_reserve(&out, 1 + nsteps * STEP_HEADER)
        out.p[0] = nsteps
        out.n = 1
        for k in range(nsteps):
            rec = &prog[1 + k * RECORD_WIDTH]       # harness/lang/program.py's record
            op = rec[0]
            thread = rec[1]
            bind = rec[2]
            tk = rec[3]
            tv = rec[4]
            x1 = rec[5]
            x2 = rec[6]
            x3 = rec[7]
            if tk == TARGET_SLOT:
                if tv < 0 or tv >= nslots:
                    raise ValueError(f"step {k}: slot {tv} out of range")
                tv = slots[tv]
            elif tk == TARGET_INVALID:
                tv = INVALID_DESCRIPTOR
            elif tk == TARGET_NONE:
                tv = 0
            _validate(op, thread, tv, x1, x2, x3)
            e._step(op, thread, tv, x1, x2, x3)
            if bind >= 0:
                if bind >= nslots:
                    raise ValueError(f"step {k}: bind slot {bind} out of range")
                slots[bind] = e.r_bound
            # the step: bound, rkind, r1, r2, r3, nevents, then the events
            buf_reserve(&out, STEP_HEADER + e.ev.n)
            out.p[out.n] = e.r_bound
            out.p[out.n + 1] = e.r_kind
            out.p[out.n + 2] = e.r1
            out.p[out.n + 3] = e.r2
            out.p[out.n + 4] = e.r3
            out.p[out.n + 5] = e.ev.n // EVENT_WIDTH
            out.n += STEP_HEADER
            if e.ev.n:
                memcpy(out.p + out.n, e.ev.p, <size_t>e.ev.n * sizeof(i64))
                out.n += e.ev.n
        _snapshot_into(e, &out)
        res = carray.clone(_Q_TEMPLATE, out.n, False)
        if out.n:
            memcpy(res.data.as_voidptr, out.p, <size_t>out.n * sizeof(i64))
        return res
    finally:
        free(slots)
        buf_free(&out)


include "_core_decode.pxi"
