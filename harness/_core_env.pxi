# Environment steps: SEMANTICS.md section 7.  Included by _core.pyx.

cdef int _env(Engine e, i64 op, i64 target, i64 x1) except -1:
    cdef i64 sid, i
    if op == OP_ADVANCE:                        # [ENV-1]
        # the clock saturates at INT64_MAX (D38); x1 and the clock are >= 0
        e.clock = e.clock + x1 if x1 <= I64_MAX - e.clock else I64_MAX
        e.r_kind = R_OK
    elif op == OP_NET_DOWN:                     # [ENV-1]
        # nothing settling does can newly apply while down (steps 1 and 4 need
        # the network), so no socket needs settling
        e.net_up = False
        e.r_kind = R_OK
    elif op == OP_NET_UP:                       # [ENV-1]
        if not e.net_up:
            e.net_up = True
            # Only a socket marked while the network was down may now deliver
            # or send FIN: every other one was at its fixpoint with the network
            # up before net_down, and nothing has changed it since (peer steps
            # and calls fail while the network is down; deadlines are settled
            # on their own).  Touching every connection ever made instead made
            # each net_up cost O(all connections) (issue 17, point 11).
            for i in range(e.netheld.n):
                sid = e.netheld.p[i]
                e.socks[sid].netheld = False
                if e.socks[sid].lifecycle != LC_DESTROYED:
                    e._mark(sid)
            e.netheld.n = 0
        e.r_kind = R_OK
    else:
        _peer_step(e, op, target, x1)
    return 0


cdef inline int _pvalue(Engine e, i64 v) except -1:
    e.r_kind = R_VALUE
    e.r1 = v
    return 0


cdef inline int _perror(Engine e, i64 err) except -1:
    e.r_kind = R_SOCKET_ERROR
    e.r1 = err
    return 0


cdef int _peer_step(Engine e, i64 op, i64 sid, i64 n) except -1:
    cdef Sock* s
    cdef i64 k, left, oid, nxt
    cdef bint was_empty
    cdef bint eof = False       # peer_recv reads a reported reset as end of file
    if not e.net_up:                            # [PEER-1]
        return _perror(e, WSAENETDOWN)
    if sid <= 0 or sid > e.nsocks or not e.socks[sid].has_peer or e.socks[sid].p_closed:
        return _perror(e, WSAENOTSOCK)          # [PEER-2]
    s = &e.socks[sid]
    if s.p_reset:
        # peer check 3; PF-5d, PF-5e and PF-6 concern peer_recv and peer_send only
        if op == OP_PEER_RECV and (e.prof.reset_reporting == RR_EOF                 # [PF-5e]
                                   or (e.prof.reset_keeps_received and s.p_buffered > 0)):  # [PF-6]
            eof = True
        elif e.prof.reset_reporting == RR_ONCE and (op == OP_PEER_RECV or op == OP_PEER_SEND):
            if not s.p_reset_reported:          # [PF-5d]
                s.p_reset_reported = True
                return _perror(e, s.p_reset_code)
            if op == OP_PEER_SEND:
                return _perror(e, WSAESHUTDOWN)
            eof = True
        else:
            return _perror(e, s.p_reset_code)   # [PEER-3]
    e._mark(sid)
    if op == OP_PEER_CLOSE and s.p_buffered > 0 and e.prof.peer_close_unread == PCU_RESET:
        op = OP_PEER_RESET      # [PF-7] closing with our data unread resets
    if op == OP_PEER_RECV:
        if n == 0:                              # [PR-1]
            _pvalue(e, 0)
        elif s.p_buffered > 0:                  # [PR-1]
            k = imin(n, s.p_buffered)
            s.p_buffered -= k
            s.p_read += k
            _pvalue(e, k)
        elif s.p_fin or eof:                    # [PR-2]
            _pvalue(e, 0)
        else:                                   # [PR-3]
            _perror(e, WSAEWOULDBLOCK)
    elif op == OP_PEER_SEND:
        _pvalue(e, n)
        if n == 0:                              # [PS-1]
            return 0
        if s.lifecycle != LC_OPEN:              # [PS-2] the data is dropped, or
            if e.prof.data_after_close == DAC_RESET:    # [PS-3] it resets
                if s.lifecycle == LC_CLOSING:
                    e._reset_ours(sid, WSAECONNABORTED)
                    e._destroy(sid)
                    e._finish_linger(sid)
                else:
                    e._emit(E_RESET, sid, 0, 0, 0)
                    s.p_reset = True
                    s.p_reset_code = WSAECONNABORTED
                    s.p_dropped += s.p_buffered
                    s.p_buffered = 0
            return 0
        left = n                                # [PS-1]
        oid = s.khead[1]
        while oid and left > 0:
            nxt = e.ops[oid].knext
            k = imin(e.ops[oid].n, left)
            left -= k
            e._op_done(oid, k)
            oid = nxt
        if left > 0:
            was_empty = s.recv_queue == 0
            s.recv_queue += left
            if was_empty:
                e._post(sid, FD_READ, 0)
    elif op == OP_PEER_CLOSE:                   # [PC-1]
        s.p_closed = True
        s.p_dropped += s.p_buffered
        s.p_buffered = 0
        if s.lifecycle != LC_DESTROYED:
            s.peer_fin = True
            s.close_seen = True
            s.close_error = 0
            oid = s.khead[1]
            while oid:
                nxt = e.ops[oid].knext
                e._op_done(oid, 0)
                oid = nxt
            e._close_handoff(sid)
        _pvalue(e, 0)
    else:                                       # OP_PEER_RESET [PX-1]
        e._peer_reset(sid)
        _pvalue(e, 0)
    return 0
