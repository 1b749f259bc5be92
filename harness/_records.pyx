# cython: boundscheck=False, wraparound=False
"""The core-led policy's memory of trace records, in C.

harness/fuzz/policy.py decides whether the reference checks an input from
the records of the leader's trace: the input is checked when one of its
records was never seen before.  ``policy.step_records`` is the readable
definition of what a record is; :class:`RecordSet` keeps the same records as
64-bit hashes in an open-addressing table, so a campaign's per-input cost is a
pass over the trace's values in C, not a Python list of keys and a Python set.

Each record hashes the very values step_records keys, with a tag per kind:
- a step: the step's values after its first (the result and its events);
- a process: its index, startup count, version, min(entries, 2), and the
  (fd, error) of each of its messages;
- a thread: its values (last error, blocked in, routines);
- a snapshot table's field: the table, the row's state, the field's index
  and its value clamped to -1, 0, 1 or 2-and-more.

Two traces have a record in common in one form exactly when they have it in
the other, hash collisions aside (tests/fuzz/test_policy.py drives both forms
on the same traces and compares every decision).
"""

from libc.stdint cimport int64_t, uint64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memset

from harness.vocab import trace

cdef Py_ssize_t STEP_HEADER = trace.STEP_HEADER
cdef Py_ssize_t EVENT_WIDTH = trace.EVENT_WIDTH
cdef Py_ssize_t[3] ROW_WIDTH
cdef Py_ssize_t[3] ROW_STATE
ROW_WIDTH[0] = len(trace.SOCKET_FIELDS)
ROW_WIDTH[1] = len(trace.PEER_FIELDS)
ROW_WIDTH[2] = len(trace.OP_FIELDS)
ROW_STATE[0] = trace.SOCKET_FIELDS.index("lifecycle")
ROW_STATE[1] = trace.PEER_FIELDS.index("closed")
ROW_STATE[2] = trace.OP_FIELDS.index("status")

cdef enum:
    TAG_STEP = 1
    TAG_PROCESS = 2
    TAG_THREAD = 3
    TAG_FIELD = 4


cdef inline uint64_t mix(uint64_t h, int64_t v) noexcept nogil:
    """One value into the running hash (a splitmix64 finalizer per value)."""
    cdef uint64_t z = h ^ (<uint64_t>v + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2))
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint64_t span(uint64_t tag, const int64_t *v, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = mix(tag, n)
    cdef Py_ssize_t i
    for i in range(n):
        h = mix(h, v[i])
    return h


cdef class RecordSet:
    """Trace records seen so far; at ``capacity`` records it starts afresh."""

    cdef uint64_t *slots
    cdef Py_ssize_t mask
    cdef Py_ssize_t count
    cdef readonly Py_ssize_t capacity
    # one trace's record keys, collected before any is added
    cdef uint64_t *keys
    cdef Py_ssize_t nkeys, cap_keys

    def __cinit__(self, Py_ssize_t capacity=1 << 20):
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        cdef Py_ssize_t size = 16
        while size < 2 * capacity:
            size *= 2
        self.slots = <uint64_t *>calloc(size, sizeof(uint64_t))
        if self.slots == NULL:
            raise MemoryError(f"a record set of {capacity} records")
        self.mask = size - 1
        self.count = 0
        self.capacity = capacity

    def __dealloc__(self):
        free(self.slots)
        free(self.keys)

    def __len__(self):
        return self.count

    def clear(self):
        memset(self.slots, 0, (self.mask + 1) * sizeof(uint64_t))
        self.count = 0

    cdef bint _add(self, uint64_t key) noexcept:
        """Add ``key``; True if it was not there (the set is emptied when full)."""
        if key == 0:
            key = 1  # 0 marks an empty slot
        cdef Py_ssize_t i = <Py_ssize_t>(key & <uint64_t>self.mask)
        while self.slots[i] != 0:
            if self.slots[i] == key:
                return False
            i = (i + 1) & self.mask
        if self.count >= self.capacity:
            self.clear()
            i = <Py_ssize_t>(key & <uint64_t>self.mask)
        self.slots[i] = key
        self.count += 1
        return True

    def add(self, values):
        """Add the records of the canonical trace ``values`` (an array of 'q');
        1 if one of them is new, 0 if none is, -1 if the trace is malformed
        (as step_records raises for it)."""
        cdef const int64_t[::1] view
        try:
            view = values
        except (TypeError, ValueError, BufferError):
            from array import array
            view = array("q", values)
        cdef Py_ssize_t n = view.shape[0]
        cdef Py_ssize_t k
        cdef bint new = False
        # the keys first: a malformed trace adds no record
        if n == 0 or self._walk(&view[0], n) < 0:
            return -1
        for k in range(self.nkeys):
            new |= self._add(self.keys[k])
        return 1 if new else 0

    cdef int _key(self, uint64_t key) except -1:
        cdef uint64_t *grown
        if self.nkeys == self.cap_keys:
            grown = <uint64_t *>realloc(self.keys, 2 * (self.cap_keys + 32) * sizeof(uint64_t))
            if grown == NULL:
                raise MemoryError("a trace's record keys")
            self.keys = grown
            self.cap_keys = 2 * (self.cap_keys + 32)
        self.keys[self.nkeys] = key
        self.nkeys += 1
        return 0

    cdef int _walk(self, const int64_t *v, Py_ssize_t n) except -2:
        """The keys of the trace's records into ``keys``: -1 if the layout does
        not hold."""
        cdef Py_ssize_t pos = 1, end, steps, _s, p, _t, table, rows, _r, i, width
        cdef Py_ssize_t entries, messages, count, k
        cdef uint64_t h
        cdef int64_t x, clamped
        self.nkeys = 0
        steps = v[0]
        if steps < 0:
            return -1
        for _s in range(steps):
            if pos + STEP_HEADER > n:
                return -1
            end = pos + STEP_HEADER + EVENT_WIDTH * v[pos + STEP_HEADER - 1]
            if end > n or end < pos + STEP_HEADER:
                return -1
            self._key(span(TAG_STEP, v + pos + 1, end - pos - 1))
            pos = end
        pos += 2  # the clock and the network
        for p in range(2):  # processes: startup, version, entries, messages
            if pos + 3 > n:
                return -1
            entries = v[pos + 2]
            if entries < 0:
                return -1
            messages = pos + 3 + 2 * entries
            if messages >= n:
                return -1
            count = v[messages]
            if count < 0 or messages + 1 + 3 * count > n:
                return -1
            h = mix(mix(mix(mix(TAG_PROCESS, p), v[pos]), v[pos + 1]), min(entries, 2))
            h = mix(h, count)
            for k in range(count):
                h = mix(mix(h, v[messages + 1 + 3 * k]), v[messages + 3 + 3 * k])
            self._key(h)
            pos = messages + 1 + 3 * count
        for _t in range(4):  # threads: last error, blocked in, routines
            if pos + 3 > n or v[pos + 2] < 0:
                return -1
            end = pos + 3 + v[pos + 2]
            if end > n:
                return -1
            self._key(span(TAG_THREAD, v + pos, end - pos))
            pos = end
        for table in range(3):  # sockets, peers, operations
            if pos >= n:
                return -1
            rows = v[pos]
            width = ROW_WIDTH[table]
            pos += 1
            if rows < 0 or pos + rows * width > n:
                return -1
            for _r in range(rows):
                h = mix(mix(TAG_FIELD, table), v[pos + ROW_STATE[table]])
                for i in range(1, width):
                    x = v[pos + i]
                    clamped = 3 if x >= 2 else (x + 1 if x >= -1 else 0)
                    self._key(mix(mix(h, i), clamped))
                pos += width
        if pos != n:
            return -1
        return 0
