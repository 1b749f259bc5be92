# Growable int64 buffers, min-heaps, message queues and descriptor tables.
# Included by harness/_core.pyx; plain C data, no Python objects.

cdef struct I64Buf:
    i64* p
    i64 n
    i64 cap


cdef int buf_reserve(I64Buf* b, i64 extra) except -1:
    cdef i64 need = b.n + extra
    cdef i64 cap = b.cap if b.cap else 16
    cdef i64* q
    if need <= b.cap:
        return 0
    while cap < need:
        cap *= 2
    q = <i64*>realloc(b.p, <size_t>cap * sizeof(i64))
    if q == NULL:
        raise MemoryError()
    b.p = q
    b.cap = cap
    return 0


cdef inline int buf_push(I64Buf* b, i64 v) except -1:
    if b.n == b.cap:
        buf_reserve(b, 1)
    b.p[b.n] = v
    b.n += 1
    return 0


cdef void buf_free(I64Buf* b) noexcept:
    free(b.p)
    b.p = NULL
    b.n = 0
    b.cap = 0


# --- binary min-heap of int64 on an I64Buf ------------------------------------

cdef int heap_push(I64Buf* h, i64 v) except -1:
    cdef i64 i, parent
    buf_push(h, v)
    i = h.n - 1
    while i > 0:
        parent = (i - 1) >> 1
        if h.p[parent] <= v:
            break
        h.p[i] = h.p[parent]
        i = parent
    h.p[i] = v
    return 0


cdef i64 heap_pop(I64Buf* h) noexcept:
    cdef i64 top = h.p[0]
    cdef i64 last, i, c, n
    h.n -= 1
    n = h.n
    if n == 0:
        return top
    last = h.p[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and h.p[c + 1] < h.p[c]:
            c += 1
        if h.p[c] >= last:
            break
        h.p[i] = h.p[c]
        i = c
    h.p[i] = last
    return top


# --- message queue: FIFO of (fd, value, err) triples ----------------------------

cdef struct MsgQ:
    I64Buf b
    i64 head            # index of the oldest triple's first int


cdef int msg_push(MsgQ* q, i64 fd, i64 value, i64 err) except -1:
    if q.b.n + 3 > q.b.cap and q.head > 0:
        memmove(q.b.p, q.b.p + q.head, <size_t>(q.b.n - q.head) * sizeof(i64))
        q.b.n -= q.head
        q.head = 0
    buf_reserve(&q.b, 3)
    q.b.p[q.b.n] = fd
    q.b.p[q.b.n + 1] = value
    q.b.p[q.b.n + 2] = err
    q.b.n += 3
    return 0


cdef inline i64 msg_len(MsgQ* q) noexcept:
    return (q.b.n - q.head) // 3


cdef void msg_pop(MsgQ* q, i64* out) noexcept:
    out[0] = q.b.p[q.head]
    out[1] = q.b.p[q.head + 1]
    out[2] = q.b.p[q.head + 2]
    q.head += 3
    if q.head == q.b.n:
        q.head = 0
        q.b.n = 0


# --- descriptor table ------------------------------------------------------------
# Slot index = value / DESC_STRIDE (values are 4, 8, 12, ...; index 0 is never used).
# `hw` is the first index never handed out; `freed` is a min-heap of released
# indices below hw.  The lowest free value is min(freed) if any, else hw.

cdef struct Entry:
    i64 sock            # socket id, 0 = free
    i64 serial          # unique per allocation, for entry identity


cdef struct Table:
    Entry* ent
    i64 cap
    i64 hw
    i64 count
    I64Buf freed


cdef inline i64 tab_value(i64 idx) noexcept:
    """The descriptor value of slot index idx."""
    return idx * DESC_STRIDE


cdef inline i64 tab_lookup(Table* t, i64 value) noexcept:
    cdef i64 idx
    if value <= 0 or value % DESC_STRIDE != 0:
        return 0
    idx = value // DESC_STRIDE
    if idx >= t.hw or t.ent[idx].sock == 0:
        return 0
    return idx


cdef i64 tab_alloc(Table* t, i64 sock, i64 serial) except -1:
    cdef i64 idx, cap
    cdef Entry* q
    if t.freed.n > 0:
        idx = heap_pop(&t.freed)
    else:
        idx = t.hw
        if idx >= t.cap:
            cap = t.cap * 2 if t.cap else 64
            q = <Entry*>realloc(t.ent, <size_t>cap * sizeof(Entry))
            if q == NULL:
                raise MemoryError()
            memset(q + t.cap, 0, <size_t>(cap - t.cap) * sizeof(Entry))
            t.ent = q
            t.cap = cap
        t.hw += 1
    t.ent[idx].sock = sock
    t.ent[idx].serial = serial
    t.count += 1
    return idx


cdef int tab_release(Table* t, i64 idx) except -1:
    t.ent[idx].sock = 0
    t.ent[idx].serial = 0
    t.count -= 1
    heap_push(&t.freed, idx)
    return 0


cdef void tab_free(Table* t) noexcept:
    free(t.ent)
    t.ent = NULL
    t.cap = 0
    t.hw = 1
    t.count = 0
    buf_free(&t.freed)
