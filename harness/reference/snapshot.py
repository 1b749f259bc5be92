"""The canonical snapshot (SEMANTICS.md section 11, layout in harness.vocab.trace),
the seven invariants, and the check that the world's indexes agree with its
plain state."""

from __future__ import annotations

from harness.reference.settle import needs_settling
from harness.reference.world import Operation, World
from harness.vocab.constants import Lifecycle, Mode, Status


def snapshot(w: World) -> tuple[int, ...]:
    out: list[int] = [w.clock, int(w.network_up)]
    for proc in w.processes:
        out += [proc.startup_count, proc.version, len(proc.table)]
        for value in sorted(proc.table):
            out += [value, proc.table[value].socket]
        out.append(len(proc.messages))
        for message in proc.messages:
            out += message
    for t in w.threads:
        out += [t.last_error, t.blocked_in, len(t.routines), *t.routines]
    out.append(len(w.sockets))
    for sid in sorted(w.sockets):
        s = w.sockets[sid]
        reg = s.registration
        out += [
            s.id, int(s.type), s.refs, s.port, s.linger_onoff, s.linger_secs,
            int(s.nonblocking), int(s.connected), int(s.sd_send), int(s.sd_recv),
            int(s.fin_sent), int(s.peer_fin), int(s.reset), s.send_queue, s.recv_queue,
            int(s.write_blocked),
            -1 if reg is None else reg.process, 0 if reg is None else reg.value,
            0 if reg is None else reg.mask,
            int(s.close_seen), s.close_error, int(s.close_posted),
            -1 if s.linger_deadline is None else s.linger_deadline,
            int(s.lifecycle), s.accepted, s.delivered, s.discarded, int(s.reset_reported),
            int(s.fin_held),
        ]  # fmt: skip
    out.append(len(w.peers))
    for pid in sorted(w.peers):
        p = w.peers[pid]
        out += [
            p.id, p.window, p.buffered, int(p.fin), int(p.reset), int(p.closed),
            p.reset_code, p.read, p.dropped, int(p.reset_reported),
        ]  # fmt: skip
    out.append(len(w.ops))
    for oid in sorted(w.ops):
        o = w.ops[oid]
        out += [
            o.id, int(o.kind), o.thread, o.entry.process, o.entry.value, o.socket, o.n,
            o.done_bytes, int(o.mode), int(o.status), o.error, int(o.note), int(o.holds),
        ]  # fmt: skip
    return tuple(out)


def invariants(w: World) -> list[str]:
    """The section 11 invariants; returns the violated ones (empty when all hold)."""
    bad: list[str] = []
    refs: dict[int, int] = {}
    for proc in w.processes:
        for entry in proc.table.values():
            refs[entry.socket] = refs.get(entry.socket, 0) + 1
            if w.sockets[entry.socket].lifecycle == Lifecycle.DESTROYED:
                bad.append(f"2: descriptor p{entry.process} #{entry.value} -> destroyed socket")
    for o in w.ops.values():  # cancel_scope = none: a holder counts as a reference (PF-12a)
        if o.holds:
            refs[o.socket] = refs.get(o.socket, 0) + 1
    live = 0
    for s in w.sockets.values():
        if s.lifecycle == Lifecycle.DESTROYED:
            continue
        live += 1
        if s.refs != refs.get(s.id, 0):
            bad.append(f"1: socket {s.id} refs {s.refs} != {refs.get(s.id, 0)} entries + holders")
        if (s.refs == 0) != (s.lifecycle == Lifecycle.CLOSING):
            bad.append(f"1: socket {s.id} refs {s.refs} but lifecycle {s.lifecycle.name}")
    for s in w.sockets.values():
        p = w.peers.get(s.id)
        if p is None:
            continue
        if s.accepted != s.delivered + s.send_queue + s.discarded:
            bad.append(f"3: socket {s.id} accepted != delivered + send_queue + discarded")
        if s.delivered != p.read + p.buffered + p.dropped:
            bad.append(f"3: socket {s.id} delivered != read + buffered + dropped")
        if s.fin_sent and not s.reset and (s.discarded or s.delivered != s.accepted):
            bad.append(f"4: socket {s.id} ended with FIN but lost bytes")
    if live > w.limits.sockets:
        bad.append(f"5: {live} live sockets > limit {w.limits.sockets}")
    for t in w.threads:
        blocking = [
            o for o in w.ops.values()
            if o.thread == t.index and o.mode == Mode.BLOCKING and o.status == Status.PENDING
        ]  # fmt: skip
        if len(blocking) > 1 or (blocking and blocking[0].id != t.blocked_in):
            bad.append(f"6: thread t{t.index} blocked_in {t.blocked_in} vs {len(blocking)} ops")
    for o in w.ops.values():
        if o.status == Status.PENDING and w.sockets[o.socket].lifecycle == Lifecycle.DESTROYED:
            bad.append(f"6: pending operation {o.id} on destroyed socket {o.socket}")
    bad += [f"7: {v}" for v in w.violations]
    return bad


def index_errors(w: World) -> list[str]:
    """Each index of the world (world.py, "Indexes") recomputed from the plain
    state and compared with what the rules kept; returns the differences."""
    bad: list[str] = []
    for pid, proc in enumerate(w.processes):
        free, heap = set(proc.free), proc.free
        if len(free) != len(heap) or free & set(proc.table):
            bad.append(f"index: p{pid} free values repeat or are in the table")
        if free | set(proc.table) != set(range(4, proc.fresh, 4)):
            bad.append(f"index: p{pid} table and free values are not 4..{proc.fresh - 4}")
        if any(heap[(i - 1) // 2] > heap[i] for i in range(1, len(heap))):
            bad.append(f"index: p{pid} free values are not a heap")
    live = [s for s in w.sockets.values() if s.lifecycle != Lifecycle.DESTROYED]
    if w.live != len(live):
        bad.append(f"index: live {w.live} != {len(live)} sockets not destroyed")
    ports: dict[int, set[int]] = {}
    for s in live:
        if s.port:
            ports.setdefault(s.port, set()).add(s.id)
    if w.ports != ports:
        bad.append(f"index: ports {w.ports} != {ports}")
    pending: dict[int, list[tuple[int, Operation]]] = {}
    holders: dict[int, set[int]] = {}
    for o in w.ops.values():  # ascending id
        if o.status == Status.PENDING:
            pending.setdefault(o.socket, []).append((o.id, o))
        if o.holds:
            holders.setdefault(o.socket, set()).add(o.id)
    kept = {sid: list(ops.items()) for sid, ops in w.pending.items()}  # in their order
    if kept != pending:
        ids = {sid: [i for i, _ in ops] for sid, ops in kept.items()}
        bad.append(
            f"index: pending {ids} != { ({s: [i for i, _ in o] for s, o in pending.items()}) }"
        )
    if w.holders != holders:
        bad.append(f"index: holders {w.holders} != {holders}")
    lingering = {s.id for s in w.sockets.values() if s.linger_deadline is not None}
    if w.lingering != lingering:
        bad.append(f"index: lingering {sorted(w.lingering)} != {sorted(lingering)}")
    unsettled = {s.id for s in w.sockets.values() if needs_settling(w, s)}
    if w.unsettled != unsettled:
        bad.append(f"index: unsettled {sorted(w.unsettled)} != {sorted(unsettled)}")
    return bad
