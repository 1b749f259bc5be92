# The canonical snapshot (harness/vocab/trace.py layout) and the section 11
# invariants.  Included by _core.pyx.

cdef int _snapshot_into(Engine e, I64Buf* b) except -1:
    cdef int p, t
    cdef i64 i, idx, npeers
    cdef Table* tab
    cdef MsgQ* q
    cdef Sock* s
    cdef OpRec* o
    cdef i64* w
    buf_push(b, e.clock)
    buf_push(b, 1 if e.net_up else 0)
    for p in range(PROCESSES):
        tab = &e.procs[p].tab
        q = &e.procs[p].msgs
        buf_reserve(b, 3 + 2 * tab.count + 1 + (q.b.n - q.head))
        buf_push(b, e.procs[p].count)
        buf_push(b, e.procs[p].version)
        buf_push(b, tab.count)
        for idx in range(1, tab.hw):
            if tab.ent[idx].sock:
                buf_push(b, tab_value(idx))
                buf_push(b, tab.ent[idx].sock)
        buf_push(b, msg_len(q))
        for i in range(q.head, q.b.n):
            buf_push(b, q.b.p[i])
    for t in range(THREADS):
        buf_push(b, e.thr[t].last_error)
        buf_push(b, e.thr[t].blocked_in)
        buf_push(b, e.thr[t].routines.n)
        for i in range(e.thr[t].routines.n):
            buf_push(b, e.thr[t].routines.p[i])
    buf_reserve(b, 1 + SOCKET_WIDTH * e.nsocks)
    buf_push(b, e.nsocks)
    npeers = 0
    for i in range(1, e.nsocks + 1):
        s = &e.socks[i]
        npeers += s.has_peer
        w = b.p + b.n
        w[0] = i
        w[1] = s.type
        w[2] = s.refs
        w[3] = s.port
        w[4] = s.onoff
        w[5] = s.secs
        w[6] = s.nonblocking
        w[7] = s.connected
        w[8] = s.sd_send
        w[9] = s.sd_recv
        w[10] = s.fin_sent
        w[11] = s.peer_fin
        w[12] = s.reset
        w[13] = s.send_queue
        w[14] = s.recv_queue
        w[15] = s.write_blocked
        w[16] = s.reg_process
        w[17] = s.reg_value
        w[18] = s.reg_mask
        w[19] = s.close_seen
        w[20] = s.close_error
        w[21] = s.close_posted
        w[22] = s.deadline
        w[23] = s.lifecycle
        w[24] = s.accepted
        w[25] = s.delivered
        w[26] = s.discarded
        w[27] = s.reset_reported
        w[28] = s.fin_held
        b.n += SOCKET_WIDTH
    buf_reserve(b, 1 + PEER_WIDTH * npeers)
    buf_push(b, npeers)
    for i in range(1, e.nsocks + 1):
        s = &e.socks[i]
        if not s.has_peer:
            continue
        w = b.p + b.n
        w[0] = i
        w[1] = s.p_window
        w[2] = s.p_buffered
        w[3] = s.p_fin
        w[4] = s.p_reset
        w[5] = s.p_closed
        w[6] = s.p_reset_code
        w[7] = s.p_read
        w[8] = s.p_dropped
        w[9] = s.p_reset_reported
        b.n += PEER_WIDTH
    buf_reserve(b, 1 + OP_WIDTH * e.nops)
    buf_push(b, e.nops)
    for i in range(1, e.nops + 1):
        o = &e.ops[i]
        w = b.p + b.n
        w[0] = i
        w[1] = o.kind
        w[2] = o.thread
        w[3] = o.eproc
        w[4] = o.evalue
        w[5] = o.sock
        w[6] = o.n
        w[7] = o.done
        w[8] = o.mode
        w[9] = o.status
        w[10] = o.error
        w[11] = o.note
        w[12] = o.holds
        b.n += OP_WIDTH
    return 0


cdef list _check_invariants(Engine e):
    cdef list bad = []
    cdef i64* cnt = <i64*>calloc(<size_t>(e.nsocks + 1), sizeof(i64))
    cdef i64* blk = <i64*>calloc(THREADS, sizeof(i64))
    cdef i64* hld = <i64*>calloc(<size_t>(e.nsocks + 1), sizeof(i64))
    cdef i64 i, idx, sid, live = 0, nsend, nrecv, oid, n, prev, nheld = 0
    cdef int p
    cdef Sock* s
    cdef OpRec* o
    if cnt == NULL or blk == NULL or hld == NULL:
        free(cnt)
        free(blk)
        free(hld)
        raise MemoryError()
    try:
        # PF-12: operations with holds count as references
        for i in range(1, e.nops + 1):
            if e.ops[i].holds:
                hld[e.ops[i].sock] += 1
                nheld += 1
                if e.ops[i].mode != M_BLOCKING or e.ops[i].kind == K_LINGER:
                    bad.append(f"internal: op {i} holds but is not a blocking send/recv")
        if nheld != e.held.n:
            bad.append(f"internal: {nheld} holding ops but the held list has {e.held.n}")
        for p in range(PROCESSES):
            for idx in range(1, e.procs[p].tab.hw):
                sid = e.procs[p].tab.ent[idx].sock
                if sid == 0:
                    continue
                if sid < 0 or sid > e.nsocks:
                    bad.append(f"2: p{p} #{tab_value(idx)} refers to unknown socket {sid}")
                    continue
                cnt[sid] += 1
                if e.socks[sid].lifecycle == LC_DESTROYED:
                    bad.append(f"2: p{p} #{tab_value(idx)} refers to destroyed socket {sid}")
        for sid in range(1, e.nsocks + 1):
            s = &e.socks[sid]
            if s.lifecycle != LC_DESTROYED:
                live += 1
                if s.refs != cnt[sid] + hld[sid]:
                    bad.append(f"1: socket {sid} refs {s.refs} != {cnt[sid]} descriptors"
                               f" + {hld[sid]} holding operations")
                if s.nholds != hld[sid]:
                    bad.append(f"internal: socket {sid} nholds {s.nholds} != {hld[sid]}")
                if hld[sid] and s.lifecycle != LC_OPEN:
                    bad.append(f"internal: socket {sid} is held but not open")
                if (s.refs == 0) != (s.lifecycle == LC_CLOSING):
                    bad.append(f"1: socket {sid} refs {s.refs} with lifecycle {s.lifecycle}")
            if s.accepted != s.delivered + s.send_queue + s.discarded:
                bad.append(f"3: socket {sid} accepted {s.accepted} != delivered {s.delivered}"
                           f" + send_queue {s.send_queue} + discarded {s.discarded}")
            if s.has_peer and s.delivered != s.p_read + s.p_buffered + s.p_dropped:
                bad.append(f"3: socket {sid} delivered {s.delivered} != read {s.p_read}"
                           f" + buffered {s.p_buffered} + dropped {s.p_dropped}")
            if s.fin_sent and not s.reset and (s.discarded != 0 or s.delivered != s.accepted):
                bad.append(f"4: socket {sid} ended with FIN but discarded {s.discarded},"
                           f" delivered {s.delivered} of {s.accepted}")
            # internal bookkeeping: the pending list matches the ops
            nsend = nrecv = 0
            oid = s.pend_head
            while oid:
                if e.ops[oid].kind == K_SEND or e.ops[oid].kind == K_WSASEND:
                    nsend += 1
                elif e.ops[oid].kind == K_RECV or e.ops[oid].kind == K_WSARECV:
                    nrecv += 1
                oid = e.ops[oid].snext
            if nsend != s.nwait_send or nrecv != s.nwait_recv:
                bad.append(f"internal: socket {sid} pending counts out of step")
            for p in range(2):
                n = 0
                prev = 0
                oid = s.khead[p]
                while oid:
                    if oid <= prev or _op_class(e.ops[oid].kind) != p:
                        bad.append(f"internal: socket {sid} class list {p} out of order")
                        break
                    n += 1
                    prev = oid
                    oid = e.ops[oid].knext
                if n != (nsend if p == 0 else nrecv):
                    bad.append(f"internal: socket {sid} class list {p} has {n} ops")
        if live > e.lim_sockets:
            bad.append(f"5: {live} non-destroyed sockets exceed the limit {e.lim_sockets}")
        if live != e.live:
            bad.append(f"internal: live count {e.live} != {live}")
        for i in range(1, e.nops + 1):
            o = &e.ops[i]
            if o.status != ST_PENDING:
                continue
            if e.socks[o.sock].lifecycle == LC_DESTROYED:
                bad.append(f"6: pending op {i} refers to destroyed socket {o.sock}")
            if o.mode == M_BLOCKING:
                blk[o.thread] += 1
                if e.thr[o.thread].blocked_in != i:
                    bad.append(f"6: t{o.thread} blocked in op {i} but blocked_in is "
                               f"{e.thr[o.thread].blocked_in}")
        for p in range(THREADS):
            if blk[p] > 1:
                bad.append(f"6: t{p} blocked in {blk[p]} operations")
            oid = e.thr[p].blocked_in
            if oid and (oid > e.nops or e.ops[oid].status != ST_PENDING):
                bad.append(f"6: t{p} blocked_in {oid} is not a pending operation")
        if e.inv7_bad:
            bad.append(f"7: {e.inv7_bad} message(s) posted for a released descriptor")
    finally:
        free(cnt)
        free(blk)
        free(hld)
    return bad
