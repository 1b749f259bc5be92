# The fuzzer's byte decoder in C: decode_bytes and run_bytes.  Included by _core.pyx.
#
# The binary form (PROGRAMS.md "Binary form"; the layout and its rules are those
# harness/lang/encoding.py documents, which is the readable definition):
#
#   byte 0     header: bits 0-2 the prelude, bits 3-5 a limits preset, bits 6-7
#              a profile index (documented, windows, linux, wine)
#   then       4 bytes per step, OP SEL B C; a trailing partial step is ignored
#
# OP picks a variant (an op and a mode) from a 256-entry table built from the
# weighted variant list; SEL's low 3 bits pick the thread and its high 5 bits the
# target; B and C are the arguments.  The choices read only the program's own
# syntactic state: its variables (here by slot: slots are numbered in binding
# order, as lowering numbers them), which descriptor variables an earlier
# closesocket named (stale), and which threads may be blocked.  No model state.
#
# The decoder writes the lowered program (harness/lang/program.py's records)
# straight into a C buffer: no Program, no per-step Python object.
# tests/core/test_core_decode.py checks, for arbitrary bytes, that decode_bytes
# gives exactly encoding.decode_lowered's records and limits, and that run_bytes
# gives exactly run_lowered of them.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdlib cimport malloc

# the binary form's shape (pinned to harness/lang/encoding.py by tests/core/test_core_vocab.py)
cdef enum:
    BIN_STEP_BYTES = 4              # OP, SEL, B, C
    BIN_PRELUDE_STEPS = 4           # the longest prelude: two startups, s1, c1
    BIN_VARIANTS = 34               # the weighted variant list
    BIN_TABLE = 256                 # OP byte -> variant
    BIN_PRESETS = 8                 # limits presets (header bits 3-5)
    BIN_PROFILES = 4                # header profiles (bits 6-7)
    MAX_U31 = 2147483647            # the largest count or time

_VOCABULARY += (
    ("BIN_STEP_BYTES", BIN_STEP_BYTES), ("BIN_PRELUDE_STEPS", BIN_PRELUDE_STEPS),
    ("BIN_VARIANTS", BIN_VARIANTS), ("BIN_TABLE", BIN_TABLE), ("BIN_PRESETS", BIN_PRESETS),
    ("BIN_PROFILES", BIN_PROFILES), ("MAX_U31", MAX_U31),
)

# --- tables ---------------------------------------------------------------------------
# Each is written once here, as Python literals, and copied into C arrays at import.

# (op, weight, mode): mode is the socket type or the overlapped notification;
# a connect's mode 1 means it takes a window argument
_BIN_VARIANT_LIST = (
    (OP_STARTUP, 6, 0), (OP_CLEANUP, 4, 0),
    (OP_SOCKET, 10, T_STREAM), (OP_SOCKET, 2, T_DGRAM),
    (OP_BIND, 3, 0), (OP_CONNECT, 8, 0), (OP_CONNECT, 4, 1),
    (OP_SETSOCKOPT_LINGER, 14, 0), (OP_SETSOCKOPT_DONTLINGER, 4, 0),
    (OP_GETSOCKOPT_LINGER, 2, 0), (OP_GETSOCKOPT_DONTLINGER, 2, 0),
    (OP_IOCTLSOCKET_FIONBIO, 6, 0), (OP_SEND, 14, 0), (OP_RECV, 10, 0),
    (OP_WSASEND, 6, M_EVENT), (OP_WSASEND, 5, M_ROUTINE),
    (OP_WSARECV, 6, M_EVENT), (OP_WSARECV, 5, M_ROUTINE),
    (OP_SHUTDOWN, 6, 0), (OP_ASYNCSELECT, 6, 0), (OP_DUPLICATE, 10, 0),
    (OP_CLOSESOCKET, 22, 0), (OP_CANCELBLOCKING, 3, 0), (OP_GETLASTERROR, 3, 0),
    (OP_GETMESSAGE, 4, 0), (OP_SLEEPEX, 3, 0), (OP_ADVANCE, 10, 0),
    (OP_NET_DOWN, 2, 0), (OP_NET_UP, 3, 0), (OP_PEER_RECV, 10, 0),
    (OP_PEER_SEND, 10, 0), (OP_PEER_CLOSE, 4, 0), (OP_PEER_RESET, 3, 0),
    (OP_OVL, 4, 0),
)
# the calls whose first argument is a descriptor (SEL's high bits pick it)
_BIN_DESCRIPTOR_OPS = (
    OP_BIND, OP_CONNECT, OP_SETSOCKOPT_LINGER, OP_SETSOCKOPT_DONTLINGER,
    OP_GETSOCKOPT_LINGER, OP_GETSOCKOPT_DONTLINGER, OP_IOCTLSOCKET_FIONBIO,
    OP_SEND, OP_RECV, OP_WSASEND, OP_WSARECV, OP_SHUTDOWN, OP_ASYNCSELECT,
    OP_DUPLICATE, OP_CLOSESOCKET,
)
# (sockets, descriptors, sndbuf, window) per header bits 3-5; preset 0 is the defaults
_BIN_LIMIT_PRESETS = (
    (16, 64, 8192, 65536),
    (16, 64, 100, 100),
    (2, 2, 1, 1),
    (4, 4, 1000, 300),
    (16, 64, 100, 65536),
    (1, 64, 8192, 65536),
    (16, 1, 8192, 65536),
    (16, 64, 0, 0),
)

cdef unsigned char _bin_op[BIN_TABLE]          # OP byte -> op
cdef unsigned char _bin_mode[BIN_TABLE]        # OP byte -> the variant's mode
cdef bint _bin_desc[OP_OVL + 1]                # op -> takes a descriptor
cdef i64 _bin_limits[BIN_PRESETS * 4]
cdef i64 _bin_prelude[8]                       # header bits 0-2 -> prelude steps taken
cdef i64 _bin_special[8]                       # number kind 2: the buffer-edge values
cdef i64 _bin_version[16]                      # startup versions, (major, minor) x 8
cdef i64 _bin_onoff[4]                         # setsockopt SO_LINGER l_onoff
cdef i64 _bin_how[4]                           # shutdown
cdef i64 _bin_mask[8]                          # asyncselect
cdef i64 _bin_pid[4]                           # duplicate's target process
cdef i64 _bin_raw[3]                           # raw descriptor values, target SEL 28..30
_bin_prelude[:] = [4, 4, 4, 4, 4, 2, 1, 0]
_bin_special[:] = [0, 1, 2, 4095, 4096, 8191, 8192, 65536]
_bin_version[:] = [2, 2, 1, 1, 0, 0, 2, 0, 1, 0, 2, 2, 1, 1, 2, 2]
_bin_onoff[:] = [0, 1, 1, 256]
_bin_how[:] = [SD_RECEIVE, SD_SEND, SD_BOTH, 3]
_bin_mask[:] = [0, FD_READ, FD_WRITE, FD_CLOSE, FD_READ | FD_WRITE, FD_READ | FD_CLOSE,
                FD_WRITE | FD_CLOSE, FD_READ | FD_WRITE | FD_CLOSE]
_bin_pid[:] = [0, 1, 1, 2]
_bin_raw[:] = [4, 8, 1]


cdef int _bin_build_tables() except -1:
    """The OP byte table: each variant weight * 256 // total times, in list
    order; the rounding remainder goes to the eight heaviest variants (ties in
    list order), round robin."""
    cdef i64 total = 0, n = 0, i, j, k, copies
    cdef i64 heavy[BIN_VARIANTS]
    cdef i64 w[BIN_VARIANTS]
    if len(_BIN_VARIANT_LIST) != BIN_VARIANTS or len(_BIN_LIMIT_PRESETS) != BIN_PRESETS:
        raise AssertionError("the binary form's tables and their sizes disagree")
    for i in range(BIN_VARIANTS):
        w[i] = _BIN_VARIANT_LIST[i][1]
        total += w[i]
    for i in range(BIN_VARIANTS):
        copies = w[i] * BIN_TABLE // total
        for j in range(copies):
            _bin_op[n] = _BIN_VARIANT_LIST[i][0]
            _bin_mode[n] = _BIN_VARIANT_LIST[i][2]
            n += 1
    # the variants by weight, heaviest first, stable (insertion sort)
    for i in range(BIN_VARIANTS):
        j = i
        while j > 0 and w[heavy[j - 1]] < w[i]:
            heavy[j] = heavy[j - 1]
            j -= 1
        heavy[j] = i
    k = 0
    while n < BIN_TABLE:
        i = heavy[k % 8]
        _bin_op[n] = _BIN_VARIANT_LIST[i][0]
        _bin_mode[n] = _BIN_VARIANT_LIST[i][2]
        n += 1
        k += 1
    memset(_bin_desc, 0, sizeof(_bin_desc))
    for op in _BIN_DESCRIPTOR_OPS:
        _bin_desc[<int>op] = True
    for i in range(BIN_PRESETS):
        for j in range(4):
            _bin_limits[i * 4 + j] = _BIN_LIMIT_PRESETS[i][j]
    return 0


_bin_build_tables()


# --- the decoder ----------------------------------------------------------------------

cdef struct BinState:
    i64* out            # the lowered program: out[0] the slot count, then the records
    i64 nsteps
    i64 nslots
    i64* home           # per slot: the process of a descriptor variable, else -1
    i64* live           # descriptor variables not yet named by a closesocket, by slot
    i64 nlive
    i64* stale          # those named by one, in the order of their first closesocket
    i64 nstale
    i64* peers          # cN slots
    i64 npeers
    i64* ops            # oN slots
    i64 nops
    int blocked         # bit t: thread t may be blocked


cdef inline i64 _bin_number(i64 b, i64 c) noexcept:
    """B and C -> a count or time, by B's top two bits: exact 0..16383; small
    0..255; a buffer-edge special; coarse multiples of 64, or near 2**31 - 1."""
    cdef i64 kind = b >> 6
    if kind == 0:
        return (b & 63) << 8 | c
    if kind == 1:
        return c
    if kind == 2:
        return _bin_special[c % 8]
    if b & 32:
        return MAX_U31 - c % 16
    return ((b & 31) << 8 | c) * 64


cdef inline i64 _bin_thread(int blocked, i64 bits, i64 home) noexcept:
    """SEL's bits 0-2: 4..7 pick a runnable thread, of the target variable's
    process when it has runnable ones; 0..3 (or no runnable thread) pick from
    all four, the runnable ones first, each group in ascending order."""
    cdef i64 runnable[THREADS]
    cdef i64 mine[THREADS]
    cdef i64 nrun = 0, nmine = 0, t, k
    for t in range(THREADS):
        if not (blocked >> t) & 1:
            runnable[nrun] = t
            nrun += 1
    if bits >= 4 and nrun:
        if home >= 0:
            for k in range(nrun):
                if runnable[k] // THREADS_PER_PROCESS == home:
                    mine[nmine] = runnable[k]
                    nmine += 1
        if nmine:
            return mine[(bits - 4) % nmine]
        return runnable[(bits - 4) % nrun]
    k = bits % THREADS
    if k < nrun:
        return runnable[k]
    k -= nrun
    for t in range(THREADS):
        if (blocked >> t) & 1:
            if k == 0:
                return t
            k -= 1
    return 0        # not reached: the two groups hold all four threads


cdef void _bin_emit(BinState* st, i64 op, i64 thread, bint binds, i64 tk, i64 tv,
                    i64 x1, i64 x2) noexcept:
    """Append one record, then update the syntactic state as the step implies."""
    cdef i64* r = st.out + 1 + st.nsteps * RECORD_WIDTH
    cdef i64 slot = -1, k, pid
    if binds:
        slot = st.nslots
        st.nslots += 1
        st.home[slot] = -1
    r[0] = op
    r[1] = thread
    r[2] = slot
    r[3] = tk
    r[4] = tv
    r[5] = x1
    r[6] = x2
    r[7] = 0                # no step of the binary form takes a third argument
    st.nsteps += 1
    if binds:
        if op == OP_SOCKET or op == OP_DUPLICATE:
            st.live[st.nlive] = slot
            st.nlive += 1
            # the process the variable's descriptor lives in: the binding
            # thread's, or the process a duplicate names (when it is one)
            pid = x1 if op == OP_DUPLICATE else thread // THREADS_PER_PROCESS
            if pid < 0 or pid >= PROCESSES:
                pid = thread // THREADS_PER_PROCESS
            st.home[slot] = pid
        elif op == OP_CONNECT:
            st.peers[st.npeers] = slot
            st.npeers += 1
        else:
            st.ops[st.nops] = slot
            st.nops += 1
    if op == OP_CLOSESOCKET and tk == TARGET_SLOT:
        # a live variable named by closesocket becomes stale (names are bound
        # once, so it never returns to live, and is never stale twice)
        for k in range(st.nlive):
            if st.live[k] == tv:
                memmove(st.live + k, st.live + k + 1, <size_t>(st.nlive - k - 1) * sizeof(i64))
                st.nlive -= 1
                st.stale[st.nstale] = tv
                st.nstale += 1
                break
    # a thread may be blocked after a call that can block, until it makes
    # another call or any environment step happens
    if thread < 0:
        st.blocked = 0
    elif op == OP_SEND or op == OP_RECV or op == OP_CLOSESOCKET:
        st.blocked |= 1 << thread
    else:
        st.blocked &= ~(1 << thread)


cdef void _bin_step(BinState* st, i64 variant, i64 sel, i64 b, i64 c) noexcept:
    """One 4-byte step; a step with nothing to name (ovl without an oN, a peer
    step without a cN) is skipped."""
    cdef i64 op = _bin_op[variant]
    cdef i64 mode = _bin_mode[variant]
    cdef i64 tk = TARGET_NONE, tv = 0, home = -1, s, th
    if op == OP_OVL:
        if st.nops:
            _bin_emit(st, op, -1, False, TARGET_SLOT, st.ops[sel % st.nops], 0, 0)
        return
    if op == OP_PEER_RECV or op == OP_PEER_SEND or op == OP_PEER_CLOSE or op == OP_PEER_RESET:
        if st.npeers:
            _bin_emit(st, op, -1, False, TARGET_SLOT, st.peers[sel % st.npeers],
                      _bin_number(b, c) if op == OP_PEER_RECV or op == OP_PEER_SEND else 0, 0)
        return
    if op == OP_ADVANCE:
        _bin_emit(st, op, -1, False, TARGET_NONE, 0, _bin_number(b, c), 0)
        return
    if op == OP_NET_DOWN or op == OP_NET_UP:
        _bin_emit(st, op, -1, False, TARGET_NONE, 0, 0, 0)
        return
    if _bin_desc[op]:
        # SEL 0..23 a live variable, 24..27 a stale one, 28..30 a raw value,
        # 31 INVALID_SOCKET; with no variable of the kind asked for, raw 4
        s = sel >> 3
        if s < 24 and st.nlive:
            tk = TARGET_SLOT
            tv = st.live[s % st.nlive]
        elif 24 <= s < 28 and st.nstale:
            tk = TARGET_SLOT
            tv = st.stale[(s - 24) % st.nstale]
        elif s == 31:
            tk = TARGET_INVALID
            tv = INVALID_DESCRIPTOR
        else:
            tk = TARGET_RAW
            tv = _bin_raw[s - 28] if s >= 28 else _bin_raw[0]
        if tk == TARGET_SLOT:
            home = st.home[tv]
    th = _bin_thread(st.blocked, sel & 7, home)
    if op == OP_STARTUP:
        _bin_emit(st, op, th, False, tk, tv, _bin_version[2 * (b & 7)],
                  _bin_version[2 * (b & 7) + 1])
    elif op == OP_SOCKET:
        _bin_emit(st, op, th, True, tk, tv, mode, 0)
    elif op == OP_CONNECT:
        # -1: the default window (the `window` limit)
        _bin_emit(st, op, th, True, tk, tv, _bin_number(b, c) if mode else -1, 0)
    elif op == OP_WSASEND or op == OP_WSARECV:
        _bin_emit(st, op, th, True, tk, tv, _bin_number(b, c), mode)
    elif op == OP_DUPLICATE:
        _bin_emit(st, op, th, True, tk, tv, _bin_pid[b & 3], 0)
    elif op == OP_BIND:
        _bin_emit(st, op, th, False, tk, tv, 1 + b % 4, 0)
    elif op == OP_SETSOCKOPT_LINGER:
        _bin_emit(st, op, th, False, tk, tv, _bin_onoff[b & 3], c if c < 255 else LINGER_MAX)
    elif op == OP_SETSOCKOPT_DONTLINGER or op == OP_IOCTLSOCKET_FIONBIO:
        _bin_emit(st, op, th, False, tk, tv, b, 0)
    elif op == OP_SEND or op == OP_RECV:
        _bin_emit(st, op, th, False, tk, tv, _bin_number(b, c), 0)
    elif op == OP_SHUTDOWN:
        _bin_emit(st, op, th, False, tk, tv, _bin_how[b & 3], 0)
    elif op == OP_ASYNCSELECT:
        _bin_emit(st, op, th, False, tk, tv, _bin_mask[b & 7], 0)
    else:
        # cleanup, getsockopt, closesocket, cancelblocking, getlasterror,
        # getmessage, sleepex: no arguments
        _bin_emit(st, op, th, False, tk, tv, 0, 0)


cdef void _bin_decode(BinState* st, const unsigned char* data, i64 n, i64 limit) noexcept:
    """Decode ``data`` into st.out: the header's prelude, then up to ``limit``
    steps in all (the prelude counts, and is never cut)."""
    cdef i64 npre, i
    st.nsteps = st.nslots = st.nlive = st.nstale = st.npeers = st.nops = 0
    st.blocked = 0
    if n > 0:
        npre = _bin_prelude[data[0] & 7]
        if npre >= 1:
            _bin_emit(st, OP_STARTUP, 0, False, TARGET_NONE, 0, 2, 2)
        if npre >= 2:
            _bin_emit(st, OP_STARTUP, 2, False, TARGET_NONE, 0, 2, 2)
        if npre >= 3:
            _bin_emit(st, OP_SOCKET, 0, True, TARGET_NONE, 0, T_STREAM, 0)        # s1
        if npre >= 4:
            _bin_emit(st, OP_CONNECT, 0, True, TARGET_SLOT, 0, -1, 0)             # c1 = connect s1
        i = 1
        while i + BIN_STEP_BYTES <= n and st.nsteps < limit:
            _bin_step(st, data[i], data[i + 1], data[i + 2], data[i + 3])
            i += BIN_STEP_BYTES
    st.out[0] = st.nslots


cdef inline i64 _bin_limit(object max_steps, i64 chunks) except? -1:
    """The bound on steps in all (the prelude's included); None: no bound."""
    if max_steps is None or max_steps > chunks + BIN_PRELUDE_STEPS:
        return chunks + BIN_PRELUDE_STEPS      # more than the bytes can give
    return max_steps if max_steps > 0 else 0


cdef object _bin_entry(object data, object max_steps, object profile, bint run):
    """decode_bytes (run False) and run_bytes (run True)."""
    cdef const unsigned char* p
    cdef const unsigned char[::1] view
    cdef i64 n, chunks, limit, cap, words, header, preset
    cdef i64 small[2048]        # the decoder's buffers for a program of up to 157 records
    cdef i64* mem = small
    cdef BinState st
    cdef Engine e = None
    if type(data) is bytes:
        p = <const unsigned char*>PyBytes_AS_STRING(data)
        n = PyBytes_GET_SIZE(data)
    else:
        view = data             # any other contiguous byte buffer
        n = view.shape[0]
        p = &view[0] if n else NULL
    header = p[0] if n else 0
    if run:
        if isinstance(profile, (tuple, list)):
            if len(profile) != BIN_PROFILES:
                raise ValueError(f"run_bytes: a profile, or a sequence of {BIN_PROFILES}")
            profile = profile[(header >> 6) & 3]
        preset = 4 * ((header >> 3) & 7)
        e = Engine.__new__(Engine)
        e._configure(profile, _bin_limits[preset], _bin_limits[preset + 1],
                     _bin_limits[preset + 2], _bin_limits[preset + 3])
    chunks = (n - 1) // BIN_STEP_BYTES if n else 0
    limit = _bin_limit(max_steps, chunks)
    cap = BIN_PRELUDE_STEPS + (chunks if chunks < limit else limit)
    # st.out: 1 + RECORD_WIDTH * cap; home, live, stale, peers, ops: cap each
    words = 1 + cap * (RECORD_WIDTH + 5)
    if words * <i64>sizeof(i64) > <i64>sizeof(small):
        mem = <i64*>malloc(<size_t>words * sizeof(i64))
        if mem == NULL:
            raise MemoryError()
    try:
        st.out = mem
        st.home = mem + 1 + cap * RECORD_WIDTH
        st.live = st.home + cap
        st.stale = st.live + cap
        st.peers = st.stale + cap
        st.ops = st.peers + cap
        _bin_decode(&st, p, n, limit)
        if run:
            return _run_records(e, st.out, st.nsteps)
        return _bin_lowered(&st, header)
    finally:
        if mem != small:
            free(mem)


cdef tuple _bin_lowered(BinState* st, i64 header):
    """decode_bytes' answer: the records as array('q') and the header's limits."""
    cdef i64 words = 1 + st.nsteps * RECORD_WIDTH
    cdef carray.array res = carray.clone(_Q_TEMPLATE, words, False)
    memcpy(res.data.as_voidptr, st.out, <size_t>words * sizeof(i64))
    return res, _BIN_LIMIT_PRESETS[(header >> 3) & 7]


def decode_bytes(data, max_steps=None):
    """The fuzzer's bytes -> (the lowered program as array('q'), the limits as
    (sockets, descriptors, sndbuf, window)): encoding.decode_lowered in C."""
    return _bin_entry(data, max_steps, None, False)


def run_bytes(data, profile, max_steps=None):
    """Decode the fuzzer's bytes and run them in one call: run_lowered of
    decode_bytes, with no Python object per step.

    ``profile`` is a Profile, or a sequence of four indexed by the header's
    bits 6-7 (encoding.HEADER_PROFILES order); the limits are the header's preset.
    """
    return _bin_entry(data, max_steps, profile, True)
