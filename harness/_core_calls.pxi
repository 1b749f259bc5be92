# Thread calls: SEMANTICS.md sections 4, 5 and 8.  Included by _core.pyx.
# Each function leaves the step's result in e.r_* and its events in e.ev.
#
# _call hands a call to the function of its family, which names the call's
# arguments (x1, x2 as harness/lang/program.py's ARG_LAYOUT lays them out; no call
# takes an x3):
#
#   _call_lifecycle   startup (major), cleanup, socket (type): no descriptor
#   _call_thread      cancelblocking, getlasterror, getmessage, sleepex
#   _call_naming      bind (port), connect (window), duplicate (pid)
#   _call_option      setsockopt SO_LINGER (onoff, secs) and SO_DONTLINGER (value),
#                     getsockopt SO_LINGER and SO_DONTLINGER, ioctlsocket FIONBIO (value)
#   _call_transfer    send and recv (n), wsasend and wsarecv (n, mode), shutdown (how)
#   _asyncselect      asyncselect (mask)
#   _closesocket      closesocket

cdef int _call(Engine e, i64 op, int th, int p, i64 target, i64 x1, i64 x2) except -1:
    cdef i64 idx = 0
    cdef i64 err, sid
    if op == OP_STARTUP or op == OP_CLEANUP or op == OP_SOCKET:
        return _call_lifecycle(e, op, th, p, x1)
    if op >= OP_CANCELBLOCKING:     # up to OP_SLEEPEX, the last thread call
        return _call_thread(e, op, th, p)
    # calls that take a descriptor: E1, E2, E3, E4, then their own checks
    err = e._common(th, p, 2 if op == OP_CLOSESOCKET else 1, target, &idx)
    if err:
        return _common_failed(e, op, th, err)
    sid = e.procs[p].tab.ent[idx].sock
    e._mark(sid)
    if op >= OP_SEND and op <= OP_SHUTDOWN:
        return _call_transfer(e, op, th, p, target, idx, sid, x1, x2)
    if op >= OP_SETSOCKOPT_LINGER and op <= OP_IOCTLSOCKET_FIONBIO:
        return _call_option(e, op, th, sid, x1, x2)
    if op == OP_BIND or op == OP_CONNECT or op == OP_DUPLICATE:
        return _call_naming(e, op, th, sid, x1)
    if op == OP_ASYNCSELECT:
        return _asyncselect(e, th, p, target, sid, x1)
    return _closesocket(e, th, p, target, idx, sid)


cdef inline int _common_failed(Engine e, i64 op, int th, i64 err) except -1:
    """A common check failed: INVALID_SOCKET for the calls that make a descriptor."""
    if op == OP_SOCKET or op == OP_DUPLICATE:
        e._err(th, R_INVALID_SOCKET, err)
        e.r_bound = INVALID_DESCRIPTOR
    else:
        e._err(th, R_SOCKET_ERROR, err)
    return 0


# --- calls without a descriptor (section 5.1) ---------------------------------------

cdef int _call_lifecycle(Engine e, i64 op, int th, int p, i64 x1) except -1:
    """startup (major = x1), cleanup, socket (type = x1)."""
    cdef i64 idx = 0
    cdef i64 err, major
    if op == OP_STARTUP:
        major = x1
        # E4 only, returned directly; a failed startup keeps last_error [ev A6]
        if e.procs[p].version == 1 and e.thr[th].blocked_in:     # [CS-E4]
            e.r_kind = R_DIRECT
            e.r1 = WSAEINPROGRESS
        elif major == 0:                        # [SU-1]
            e.r_kind = R_DIRECT
            e.r1 = WSAVERNOTSUPPORTED
        else:                                   # [SU-2]
            e.procs[p].count += 1
            e.procs[p].version = 1 if major == 1 else 2
            e._ok(th, 0)
        return 0
    # E1, E2, E4; cleanup's E1 failure is its own rule [CU-1] too (ev A4)
    err = e._common(th, p, 0, 0, &idx)
    if err:
        return _common_failed(e, op, th, err)
    if op == OP_SOCKET:
        return _socket(e, th, p, x1)
    return _cleanup(e, th, p)


cdef int _call_thread(Engine e, i64 op, int th, int p) except -1:
    """cancelblocking, getlasterror, getmessage, sleepex: no arguments, and no
    common checks (cancelblocking makes its own)."""
    cdef i64 msg[3]
    if op == OP_GETLASTERROR:                   # [LE-1]
        e.r_kind = R_LASTERROR
        e.r1 = e.thr[th].last_error
    elif op == OP_GETMESSAGE:                   # [GM-1]
        if msg_len(&e.procs[p].msgs) == 0:
            e.r_kind = R_NONE
        else:
            msg_pop(&e.procs[p].msgs, msg)
            e.r_kind = R_MESSAGE
            e.r1 = msg[0]
            e.r2 = msg[1]
            e.r3 = msg[2]
    elif op == OP_SLEEPEX:
        return _sleepex(e, th)
    elif e.prof.cancelblocking == CB_STUB:          # [PF-15] no check, no effect
        e.r_kind = R_VALUE
        e.r1 = 0
    else:
        return _cancelblocking(e, th, p)
    return 0


# --- calls on a descriptor (section 5.1) ----------------------------------------------

cdef int _call_naming(Engine e, i64 op, int th, i64 sid, i64 x1) except -1:
    """bind (port = x1), connect (window = x1, -1 for the window limit),
    duplicate (pid = x1)."""
    cdef Sock* s = &e.socks[sid]
    cdef i64 port, window, slot
    if op == OP_DUPLICATE:
        return _duplicate(e, th, sid, x1)
    if op == OP_CONNECT:
        window = x1
        if s.type == T_DGRAM:                   # [CN-1]
            e._err(th, R_SOCKET_ERROR, WSAEOPNOTSUPP)
        elif s.connected:                       # [CN-2]
            e._err(th, R_SOCKET_ERROR, WSAEISCONN)
        else:                                   # [CN-3]
            s.connected = True
            s.has_peer = True
            s.p_window = window if window >= 0 else e.lim_window
            s.p_reset_code = WSAECONNRESET
            e._ok(th, 0)
            e.r_bound = sid
            e._post(sid, FD_WRITE, 0)
        return 0
    port = x1
    if e.ports == NULL:
        # bits [0, NPORTS): shared space, or stream under per_type; [NPORTS, 2N): dgram
        e.ports = <unsigned char*>calloc(2 * NPORTS // 8, 1)
        if e.ports == NULL:
            raise MemoryError()
    slot = _port_slot(e, s.type, port)
    if s.port != 0 or s.connected:              # [BI-1]
        e._err(th, R_SOCKET_ERROR, WSAEINVAL)
    elif e.ports[slot >> 3] & (1 << (slot & 7)):    # [BI-2]
        e._err(th, R_SOCKET_ERROR, WSAEADDRINUSE)
    else:                                       # [BI-3]
        s.port = port
        e.ports[slot >> 3] |= <unsigned char>(1 << (slot & 7))
        e._ok(th, 0)
    return 0


cdef int _call_option(Engine e, i64 op, int th, i64 sid, i64 x1, i64 x2) except -1:
    """setsockopt SO_LINGER (onoff = x1, secs = x2) and SO_DONTLINGER (value = x1),
    getsockopt SO_LINGER and SO_DONTLINGER, ioctlsocket FIONBIO (value = x1)."""
    cdef Sock* s = &e.socks[sid]
    cdef i64 onoff, secs, value
    if op == OP_IOCTLSOCKET_FIONBIO:
        value = x1
        if value == 0 and s.reg_process >= 0:   # [NB-1]
            e._err(th, R_SOCKET_ERROR, WSAEINVAL)
        else:                                   # [NB-2]
            s.nonblocking = value != 0
            e._ok(th, 0)
    elif op == OP_GETSOCKOPT_LINGER or op == OP_GETSOCKOPT_DONTLINGER:
        # [OPT-1]; bsd accepts [PF-3a], wine refuses getsockopt too [PF-3b]
        if s.type == T_DGRAM and e.prof.linger_option != LOPT_BSD:
            e._err(th, R_SOCKET_ERROR, WSAENOPROTOOPT)
        else:
            if not e.prof.keep_last_error:              # [PF-11]
                e.thr[th].last_error = 0
            if op == OP_GETSOCKOPT_LINGER:              # [OPT-4]
                e.r_kind = R_LINGER
                e.r1 = s.onoff
                e.r2 = s.secs
            else:                                       # [OPT-5]
                e.r_kind = R_DONTLINGER
                e.r1 = 1 if s.onoff == 0 else 0
    elif s.type == T_DGRAM and e.prof.linger_option == LOPT_WINSOCK:      # [OPT-1]
        e._err(th, R_SOCKET_ERROR, WSAENOPROTOOPT)
    elif op == OP_SETSOCKOPT_LINGER:                    # [OPT-2]
        onoff = x1
        secs = x2
        if e.prof.linger_option == LOPT_WINSOCK:
            s.onoff = onoff
            s.secs = secs
        elif onoff != 0:                                # [PF-3a]
            s.onoff = 1
            s.secs = secs
        else:
            s.onoff = 0
        e._ok(th, 0)
    else:                                               # SO_DONTLINGER [OPT-3]
        value = x1
        if e.prof.linger_option == LOPT_WINSOCK:
            s.onoff = 0 if value != 0 else 1
        elif value != 0:                                # [PF-3a] V != 0
            s.onoff = 0
        else:
            s.onoff = 1
            if e.prof.linger_option == LOPT_WINE:       # [PF-3b] SO_LINGER {1, 0}
                s.secs = 0
        e._ok(th, 0)
    return 0


cdef int _call_transfer(Engine e, i64 op, int th, int p, i64 value, i64 idx, i64 sid,
                        i64 x1, i64 x2) except -1:
    """send and recv (n = x1), wsasend and wsarecv (n = x1, mode = x2), shutdown
    (how = x1)."""
    cdef Sock* s
    cdef i64 how
    if op != OP_SHUTDOWN:
        return _xfer(e, th, p, op, value, idx, sid, x1, x2)
    s = &e.socks[sid]
    how = x1
    if how < SD_RECEIVE or how > SD_BOTH:       # [SD-1]
        e._err(th, R_SOCKET_ERROR, WSAEINVAL)
    elif s.reset and e.prof.reset_reporting == RR_ONCE:      # [PF-5c]
        e._err(th, R_SOCKET_ERROR, WSAENOTCONN)
    elif not s.connected:                       # [SD-2]
        if e.prof.shutdown_unconnected == SDU_RECORDS:      # [PF-10]
            if how != SD_RECEIVE:
                s.sd_send = True
                s.fin_held = True
            if how != SD_SEND:
                s.sd_recv = True
        e._err(th, R_SOCKET_ERROR, WSAENOTCONN)
    else:                                       # [SD-3]
        if how != SD_RECEIVE:
            s.sd_send = True
            s.fin_held = False      # [PF-10] FIN follows as usual
        if how != SD_SEND:
            s.sd_recv = True
        e._ok(th, 0)
    return 0


cdef int _sleepex(Engine e, int th) except -1:
    cdef I64Buf* rq = &e.thr[th].routines
    cdef i64 i, oid
    for i in range(rq.n):                       # [SX-1]
        oid = rq.p[i]
        e.ops[oid].note = N_ROUTINE_RAN
        e._emit(E_ROUTINE_RAN, oid, th, 0, 0)
    e.r_kind = R_VALUE
    e.r1 = rq.n
    rq.n = 0
    return 0


cdef int _cancelblocking(Engine e, int th, int p) except -1:
    cdef i64 oid, sid
    if e.procs[p].count == 0 and e.prof.startup_required:      # [CS-E1] [PF-1]
        e._err(th, R_SOCKET_ERROR, WSANOTINITIALISED)
    elif not e.net_up:                                          # [CS-E2]
        e._err(th, R_SOCKET_ERROR, WSAENETDOWN)
    elif e.procs[p].version != 1:                               # [CB-1]
        e._err(th, R_SOCKET_ERROR, WSAEOPNOTSUPP)
    elif e.thr[th].blocked_in == 0:                             # [CB-2]
        e._err(th, R_SOCKET_ERROR, WSAEINVAL)
    else:                                                       # [CB-3]
        e._ok(th, 0)
        oid = e.thr[th].blocked_in          # D8: the caller's own blocked call
        sid = e.ops[oid].sock
        e._mark(sid)
        if e.ops[oid].kind == K_LINGER:     # first becomes abortive [CS-9c]
            e._reset_ours(sid, WSAECONNRESET)
            e._destroy(sid)
        e._op_fail(oid, WSAEINTR, False)
    return 0


cdef int _socket(Engine e, int th, int p, i64 type) except -1:
    cdef i64 sid, idx
    if e.procs[p].tab.count >= e.lim_desc:      # [SO-1]
        e._err(th, R_INVALID_SOCKET, WSAEMFILE)
        e.r_bound = INVALID_DESCRIPTOR
    elif e.live >= e.lim_sockets:               # [SO-2]
        e._err(th, R_INVALID_SOCKET, WSAENOBUFS)
        e.r_bound = INVALID_DESCRIPTOR
    else:                                       # [SO-3]
        sid = e._new_socket(type)
        e.serial += 1
        idx = tab_alloc(&e.procs[p].tab, sid, e.serial)
        e._ok(th, tab_value(idx))
        e.r_bound = tab_value(idx)
    return 0


cdef int _duplicate(Engine e, int th, i64 sid, i64 pid) except -1:
    cdef i64 idx
    if pid < 0 or pid >= PROCESSES:             # [DU-1]
        e._err(th, R_INVALID_SOCKET, WSAEINVAL)
        e.r_bound = INVALID_DESCRIPTOR
    elif e.procs[pid].count == 0 and e.prof.startup_required:     # [DU-2] [PF-1]
        e._err(th, R_INVALID_SOCKET, WSANOTINITIALISED)
        e.r_bound = INVALID_DESCRIPTOR
    elif e.procs[pid].tab.count >= e.lim_desc:  # [DU-3]
        e._err(th, R_INVALID_SOCKET, WSAEMFILE)
        e.r_bound = INVALID_DESCRIPTOR
    else:                                       # [DU-4]
        e.serial += 1
        idx = tab_alloc(&e.procs[pid].tab, sid, e.serial)
        e.socks[sid].refs += 1
        e._ok(th, tab_value(idx))
        e.r_bound = tab_value(idx)
    return 0


cdef int _asyncselect(Engine e, int th, int p, i64 value, i64 sid, i64 mask) except -1:
    cdef Sock* s = &e.socks[sid]
    s.nonblocking = True                        # [AS-1]
    if mask == 0:                               # [AS-1]
        s.reg_process = -1
        s.reg_value = 0
        s.reg_mask = 0
        e._ok(th, 0)
        return 0
    s.reg_process = p                           # [AS-2]
    s.reg_value = value
    s.reg_mask = mask
    e._ok(th, 0)
    if s.recv_queue > 0:                        # [AS-3] what is due, in bit order
        e._post(sid, FD_READ, 0)
    if s.connected and not s.reset and e.lim_sndbuf - s.send_queue > 0:
        e._post(sid, FD_WRITE, 0)
    # a FIN's FD_CLOSE waits for the data under after_data [MS-2]; a reset's does not
    if (s.close_seen and (mask & FD_CLOSE)
            and (s.close_error != 0
                 or e.prof.fd_close_timing == TIMING_IMMEDIATE or s.recv_queue == 0)):
        s.close_posted = True                       # D2
        e._post(sid, FD_CLOSE, s.close_error)
    return 0


# --- data transfer (section 5.2) ----------------------------------------------------

cdef int _xfer(Engine e, int th, int p, i64 op, i64 value, i64 idx, i64 sid,
               i64 n, i64 mode) except -1:
    cdef Sock* s = &e.socks[sid]
    cdef bint is_send = op == OP_SEND or op == OP_WSASEND
    cdef bint ovl = op == OP_WSASEND or op == OP_WSARECV
    cdef i64 kind = op - OP_SEND + K_SEND
    cdef i64 serial = e.procs[p].tab.ent[idx].serial
    cdef i64 oid, k, space
    cdef bint waiting
    cdef bint eof = False       # a recv that reads end of file without peer_fin
    if not ovl:
        mode = M_BLOCKING
    if s.type == T_DGRAM or not s.connected:                                  # [TX-1]
        return e._err(th, R_SOCKET_ERROR, WSAENOTCONN)
    if s.reset:
        if not is_send and (e.prof.reset_reporting == RR_EOF                  # [PF-5e]
                            or (e.prof.reset_keeps_received and s.recv_queue > 0)):   # [PF-6]
            eof = True
        elif e.prof.reset_reporting == RR_ONCE:                               # [PF-5a]
            if not s.reset_reported:
                s.reset_reported = True
                return e._err(th, R_SOCKET_ERROR,
                              WSAESHUTDOWN if s.peer_fin else WSAECONNRESET)
            if is_send:
                return e._err(th, R_SOCKET_ERROR, WSAESHUTDOWN)
            eof = True
        else:                                                                 # [TX-2]
            return e._err(th, R_SOCKET_ERROR, WSAECONNRESET)
    if is_send:
        if s.sd_send:                                                         # [TX-3]
            return e._err(th, R_SOCKET_ERROR, WSAESHUTDOWN)
    elif s.sd_recv:
        if e.prof.recv_after_shutdown != RAS_DRAIN:                           # [TX-3]
            return e._err(th, R_SOCKET_ERROR, WSAESHUTDOWN)
        eof = True                                                            # [PF-9]
    if n == 0:                                                                # [TX-4]
        e._ok(th, 0)
        if ovl:
            oid = e._new_op(kind, mode, th, p, value, serial, sid, 0)
            e.r_bound = oid
            e._op_done(oid, 0)
        return 0
    if is_send:
        space = e.lim_sndbuf - s.send_queue
        waiting = s.nwait_send > 0
        k = 0 if waiting else imin(n, space)
        if not waiting and space >= n:          # [SEND-1] [WSEND-1]
            s.send_queue += n
            s.accepted += n
            if ovl:
                e._ok(th, 0)
                oid = e._new_op(kind, mode, th, p, value, serial, sid, n)
                e.r_bound = oid
                e._op_done(oid, n)
            else:
                e._ok(th, n)
        elif not ovl and s.nonblocking:         # [SEND-2]
            if k > 0:
                s.send_queue += k
                s.accepted += k
                e._ok(th, k)
            else:
                s.write_blocked = True
                e._err(th, R_SOCKET_ERROR, WSAEWOULDBLOCK)
        else:                                   # [SEND-3] [WSEND-2]
            s.send_queue += k
            s.accepted += k
            oid = e._new_op(kind, mode, th, p, value, serial, sid, n)
            e.ops[oid].done = k
            if ovl:
                e._err(th, R_SOCKET_ERROR, WSA_IO_PENDING)
                e.r_bound = oid
            else:
                e.r_kind = R_BLOCKED
        return 0
    # recv / wsarecv: data [RECV-1], or end of file [RECV-2], at once [WRECV-1]
    if s.recv_queue > 0 or s.peer_fin or eof:
        k = imin(n, s.recv_queue)
        s.recv_queue -= k
        if ovl:
            e._ok(th, 0)
            oid = e._new_op(kind, mode, th, p, value, serial, sid, n)
            e.r_bound = oid
            e._op_done(oid, k)
        else:
            e._ok(th, k)
        if k > 0:
            e._after_take(sid)                  # [RECV-1] FD_READ if data remains
    elif ovl:                                   # [WRECV-2]
        oid = e._new_op(kind, mode, th, p, value, serial, sid, n)
        e._err(th, R_SOCKET_ERROR, WSA_IO_PENDING)
        e.r_bound = oid
    elif s.nonblocking:                         # [RECV-3]
        e._err(th, R_SOCKET_ERROR, WSAEWOULDBLOCK)
    else:                                       # [RECV-4]
        e._new_op(kind, M_BLOCKING, th, p, value, serial, sid, n)
        e.r_kind = R_BLOCKED
    return 0


# --- closesocket (section 8) and cleanup (section 5.1) ----------------------------------

cdef int _release(Engine e, int p, i64 idx, i64 sid, i64 value) except -1:
    """CS-7 first half: free the entry, drop a registration made through it."""
    cdef Sock* s = &e.socks[sid]
    tab_release(&e.procs[p].tab, idx)           # [CS-7]
    if s.reg_process == p and s.reg_value == value:
        s.reg_process = -1
        s.reg_value = 0
        s.reg_mask = 0
    return 0


cdef inline i64 _port_slot(Engine e, i64 type, i64 port) noexcept:
    """Bit index into ports: one space (BI-2), or one per type (PF-8)."""
    if e.prof.port_space == PORTS_PER_TYPE and type == T_DGRAM:     # [PF-8]
        return NPORTS + port
    return port


cdef int _cancel_on(Engine e, i64 sid, i64 serial, i64 status, bint notifies,
                    i64 berr) except -1:
    """Cancel pending ops on sid (those issued through entry `serial`, or all if 0)."""
    cdef i64 oid = e.socks[sid].pend_head
    cdef i64 nxt
    while oid:
        nxt = e.ops[oid].snext
        if e.ops[oid].kind != K_LINGER and (serial == 0 or e.ops[oid].eserial == serial):
            e._cancel(oid, status, notifies, berr)
        oid = nxt
    return 0


cdef bint _holder_through(Engine e, i64 sid, i64 serial) noexcept:
    """A pending blocking send/recv issued through entry `serial` (PF-12a)."""
    cdef i64 oid = e.socks[sid].pend_head
    while oid:
        if (e.ops[oid].mode == M_BLOCKING and e.ops[oid].kind != K_LINGER
                and e.ops[oid].eserial == serial):
            return True
        oid = e.ops[oid].snext
    return False


cdef int _cs7_scope(Engine e, i64 sid, i64 serial, bint last) except -1:
    """CS-7 second half under the profile's cancel_scope (the entry is released)."""
    cdef i64 oid
    cdef Sock* s
    # [CS-7]; a blocking call gets the profile's blocking_cancel_error [PF-13]
    if e.prof.cancel_scope == SCOPE_DESCRIPTOR:
        _cancel_on(e, sid, serial, e.prof.cancel_status, e.prof.cancel_notifies,
                   e.prof.blocking_cancel_error)
    elif e.prof.cancel_scope == SCOPE_LAST_REFERENCE:
        if last:
            _cancel_on(e, sid, 0, e.prof.cancel_status, e.prof.cancel_notifies,
                       e.prof.blocking_cancel_error)
    else:
        # [PF-12a] blocked calls through the entry hold the socket; nothing is cancelled
        s = &e.socks[sid]
        oid = s.pend_head
        while oid:
            if (e.ops[oid].mode == M_BLOCKING and e.ops[oid].kind != K_LINGER
                    and e.ops[oid].eserial == serial):
                e.ops[oid].holds = True
                s.refs += 1
                s.nholds += 1
                buf_push(&e.held, oid)
            oid = e.ops[oid].snext
    return 0


cdef int _cs9_common(Engine e, i64 sid) except -1:
    """CS-9: discard the recv_queue, release the port, remove the registration."""
    cdef Sock* s = &e.socks[sid]
    cdef i64 slot
    s.recv_queue = 0                            # [CS-9]
    if s.port:
        # a port is held by one socket at a time (BI-2), so clearing is safe
        slot = _port_slot(e, s.type, s.port)
        e.ports[slot >> 3] &= <unsigned char>~(1 << (slot & 7))
        s.port = 0
    s.reg_process = -1
    s.reg_value = 0
    s.reg_mask = 0
    return 0


cdef bint _last_close(Engine e, i64 sid, int th, bint caller_waits) except -1:
    """CS-9 and its branch for the last reference.  ``th`` is the caller (its
    result is set with the branch), or -1 when nobody called (PF-12b deferred
    last close, PF-14 cleanup).  Returns True for the CS-9e case when
    ``caller_waits``: the caller then blocks; otherwise that case takes CS-9f
    (or CS-9b without a caller), which close the socket in the background."""
    cdef Sock* s = &e.socks[sid]
    _cs9_common(e, sid)
    if s.type == T_DGRAM or not s.connected or s.reset:           # [CS-9a]
        _ok_caller(e, th)
        e._destroy(sid)
    elif s.onoff == 0:                                            # [CS-9b]
        s.lifecycle = LC_CLOSING
        _ok_caller(e, th)
    elif s.secs == 0:                                             # [CS-9c]
        _ok_caller(e, th)
        e._reset_ours(sid, WSAECONNRESET)
        e._destroy(sid)
    elif not (s.send_queue > 0 or s.nwait_send > 0):              # [CS-9d]
        _ok_caller(e, th)
        if not s.fin_sent:
            s.fin_sent = True
            s.p_fin = True
            e._emit(E_FIN, sid, 0, 0, 0)
        e._destroy(sid)
    elif caller_waits:                                            # [CS-9e]
        return True
    else:                                                         # [CS-9f] / [CS-9b]
        s.lifecycle = LC_CLOSING
        _ok_caller(e, th)
    return False


cdef inline int _ok_caller(Engine e, int th) except -1:
    if th >= 0:
        e._ok(th, 0)
    return 0


cdef int _closesocket(Engine e, int th, int p, i64 value, i64 idx, i64 sid) except -1:
    cdef Sock* s = &e.socks[sid]
    cdef i64 serial = e.procs[p].tab.ent[idx].serial
    cdef bint last = s.refs == 1                # [CS-5]
    cdef bint unsent = s.send_queue > 0 or s.nwait_send > 0
    cdef bint bsd = e.prof.linger_close == LCLOSE_BSD
    cdef i64 oid
    # [CS-6] (never under linger_close = bsd [PF-4a]; a holder makes it not last [PF-12a])
    if (not bsd and s.type == T_STREAM and last and s.onoff != 0 and s.secs > 0
            and s.nonblocking and s.connected and not s.reset and not s.sd_send and unsent
            and not (e.prof.cancel_scope == SCOPE_NONE and _holder_through(e, sid, serial))):
        return e._err(th, R_SOCKET_ERROR, WSAEWOULDBLOCK)
    # [CS-7]
    _release(e, p, idx, sid, value)
    _cs7_scope(e, sid, serial, last)
    # [CS-8]
    s = &e.socks[sid]
    s.refs -= 1
    if s.refs > 0:
        return e._ok(th, 0)
    # [CS-9]; under linger_close = bsd the caller waits, nonblocking or not [PF-4a]
    if _last_close(e, sid, th, bsd or not s.nonblocking):         # [CS-9e]
        s = &e.socks[sid]
        s.lifecycle = LC_CLOSING
        # saturates like the clock (D38); secs <= LINGER_MAX, so 1000 * secs fits
        s.deadline = (e.clock + 1000 * s.secs if e.clock <= I64_MAX - 1000 * s.secs
                      else I64_MAX)
        buf_push(&e.dl, sid)
        oid = e._new_op(K_LINGER, M_BLOCKING, th, p, value, serial, sid, 0)
        e.socks[sid].linger_op = oid
        e.r_kind = R_BLOCKED
    return 0


cdef int _cleanup(Engine e, int th, int p) except -1:
    cdef Proc* pr = &e.procs[p]
    cdef Table* tab = &pr.tab
    cdef i64 idx, sid, serial, oid, nxt
    cdef int t
    cdef bint last
    cdef bint as_close = e.prof.cleanup_close == CUC_AS_CLOSESOCKET
    cdef Sock* s
    if pr.count == 0:       # [CU-1] (reached only when CS-E1 is off, PF-1)
        return e._err(th, R_SOCKET_ERROR, WSANOTINITIALISED)
    pr.count -= 1                               # [CU-2]
    if pr.count > 0:
        return e._ok(th, 0)
    # [CU-3] every descriptor, ascending value, with the documented switches
    # (or as closesocket under the profile [PF-14])
    for idx in range(1, tab.hw):
        sid = tab.ent[idx].sock
        if sid == 0:
            continue
        serial = tab.ent[idx].serial
        e._mark(sid)
        last = e.socks[sid].refs == 1
        _release(e, p, idx, sid, tab_value(idx))
        if as_close:
            _cs7_scope(e, sid, serial, last)
        else:
            _cancel_on(e, sid, serial, WSA_OPERATION_ABORTED, False, WSAEINTR)
        s = &e.socks[sid]
        s.refs -= 1
        if s.refs > 0:
            continue
        if as_close:                            # [PF-14] never blocking
            _last_close(e, sid, -1, False)
            continue
        _cs9_common(e, sid)
        if s.type == T_DGRAM or not s.connected or s.reset:     # [CS-9a]
            e._destroy(sid)
        else:                                   # [CS-9c] abortive
            e._reset_ours(sid, WSAECONNRESET)
            e._destroy(sid)
    # [CU-4] P's threads still blocked, in thread order
    for t in range(THREADS_PER_PROCESS * p, THREADS_PER_PROCESS * (p + 1)):
        oid = e.thr[t].blocked_in
        if oid == 0:
            continue
        sid = e.ops[oid].sock
        e._mark(sid)
        if e.ops[oid].kind == K_LINGER:
            e._reset_ours(sid, WSAECONNRESET)
            e._destroy(sid)
        e._op_fail(oid, WSAEINTR, False)
    # [CU-5] P's operations still pending, in id order
    oid = e.gp_head
    while oid:
        nxt = e.ops[oid].gnext
        if e.ops[oid].thread // THREADS_PER_PROCESS == p:
            if as_close:
                e._op_fail(oid, e.prof.cancel_status, e.prof.cancel_notifies)
            else:
                e._op_fail(oid, WSA_OPERATION_ABORTED, False)
        oid = nxt
    return e._ok(th, 0)
