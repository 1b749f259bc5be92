"""Soak: millions of steps of mixed churn, RSS and throughput sampled.

An ``Engine`` (the compiled core by default) runs a seeded, endless mix of
socket / connect / linger options / send / recv / overlapped operations /
duplicates into the other process / shutdowns / all kinds of close / peer
traffic, closes and resets / messages / routines / time / net down and up,
with an occasional cleanup and startup, through the stepwise API.  Every
``--every`` steps it prints the resident set size, the steps per second and
the settling passes per step of the interval just ended, next to the number
of sockets and operations created so far, and checks the SEMANTICS.md
section 11 invariants.

The model keeps every socket and operation for the snapshot (destroyed ones
included, SEMANTICS.md section 11), so one world's memory grows with what it
created, a few hundred bytes per record, by design.  The soak therefore
starts a fresh world every ``--world-steps`` steps (default 10**6): after the
first world RSS must stay flat (at most +10%), and the last interval's
throughput must be at least 80% of the first's; ``main`` prints both and
exits 1 when either fails.  ``--world-steps 0`` keeps one world (growth then
shows in bytes per created record).

    python -m harness.perf.soak                 # 10**7 steps on the core
    python -m harness.perf.soak --steps 200000 --engine reference
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from harness.engines import load_engine
from harness.vocab.constants import (
    FD_CLOSE,
    FD_READ,
    FD_WRITE,
    WSAEWOULDBLOCK,
    Mode,
    Op,
    SockType,
)
from harness.vocab.profiles import DOCUMENTED, PROFILES, Limits
from harness.vocab.trace import E_COMPLETE, EVENT_WIDTH, R_BLOCKED, R_SOCKET_ERROR

PAGE = os.sysconf("SC_PAGE_SIZE")
POOL = 48  # live descriptors kept per process
PEERS = 4 * POOL  # peers remembered (every live connection's, and some old ones)
MASKS = (0, FD_READ, FD_WRITE | FD_CLOSE, FD_READ | FD_WRITE | FD_CLOSE)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


@dataclass
class Churn:
    """The generator's own bookkeeping (bounded), fed by each step's record.

    In each process the first thread (t0, t2) is the *admin*: it never makes a
    call that can block (sockets, options, duplicates, overlapped operations,
    messages, and closes made abortive when they would block), so it can
    always end a long block of the *worker* (t1, t3), which does the blocking
    sends, recvs and linger closes: by closing the descriptor the worker is
    blocked on (CS-7 cancels the call), or, last, by cleanup.
    """

    engine: object
    rng: random.Random
    steps: int = 0
    sockets: int = 0
    ops: int = 0
    pools: tuple[list[int], list[int]] = field(default_factory=lambda: ([], []))
    peers: list[int] = field(default_factory=list)
    overlapped: list[int] = field(default_factory=list)
    blocked: dict[int, int] = field(default_factory=dict)  # worker -> step it blocked at
    blocked_on: dict[int, tuple[int, int]] = field(default_factory=dict)  # worker -> (p, value)

    def step(self, op: Op, thread: int = -1, target: int = 0, x1: int = 0, x2: int = 0,
             x3: int = 0) -> tuple[int, ...]:  # fmt: skip
        record: tuple[int, ...] = self.engine.step(op, thread, target, x1, x2, x3)  # type: ignore[attr-defined]
        self.steps += 1
        if record[1] == R_BLOCKED:
            assert thread % 2 == 1, f"admin thread t{thread} blocked in {op.name}"
            self.blocked[thread] = self.steps
            self.ops += 1
        for k in range(record[5]):
            if record[6 + EVENT_WIDTH * k] == E_COMPLETE:
                worker = record[7 + EVENT_WIDTH * k]
                self.blocked.pop(worker, None)
                self.blocked_on.pop(worker, None)
        return record

    def forget(self, process: int, value: int) -> None:
        pool = self.pools[process]
        if value in pool:
            pool.remove(value)

    # --- one action -------------------------------------------------------------------

    def action(self) -> None:
        rng = self.rng
        p = rng.randrange(2)
        admin, worker = 2 * p, 2 * p + 1
        since = self.blocked.get(worker)
        if since is not None and self.steps - since > 40:
            self.unblock(worker)
            return
        if rng.random() < 0.10 or not self.pools[p]:
            self.open(p)
            return
        d = rng.choice(self.pools[p])
        free = worker not in self.blocked
        t = worker if free and rng.random() < 0.5 else admin
        pick: list[tuple[float, Callable[[], object]]] = [
            (0.05, lambda: self.connect(admin, d)),
            (0.12 if free else 0.0, lambda: self.transfer(p, worker, d)),
            (0.06, lambda: self.overlapped_op(t, d)),
            (0.10, lambda: self.peer_traffic()),
            (0.05, lambda: self.option(admin, d)),
            (0.03, lambda: self.duplicate(p, admin, d)),
            (0.05, lambda: self.admin_close(p, d)),
            (0.05 if free else 0.0, lambda: self.worker_close(p, d)),
            (0.05, lambda: self.observe(t)),
            (0.03, lambda: self.step(Op.ADVANCE, -1, 0, rng.choice((1, 10, 1000, 6000)))),
            (0.02, lambda: self.step(Op.SHUTDOWN, admin, d, rng.randrange(3))),
            (0.002, lambda: self.net_flap()),
            (0.0002, lambda: self.restart(p)),
        ]
        x = rng.random() * sum(w for w, _ in pick)
        for w, fn in pick:
            x -= w
            if w and x <= 0:
                fn()
                return

    def open(self, p: int) -> None:
        if len(self.pools[p]) >= POOL:
            self.admin_close(p, self.pools[p][0])
            return
        kind = SockType.STREAM if self.rng.random() < 0.9 else SockType.DGRAM
        r = self.step(Op.SOCKET, 2 * p, 0, kind)
        if r[0] >= 0:
            self.sockets += 1
            self.pools[p].append(r[0])
            if self.rng.random() < 0.5:
                self.step(Op.IOCTLSOCKET_FIONBIO, 2 * p, r[0], 1)

    def connect(self, t: int, d: int) -> None:
        r = self.step(Op.CONNECT, t, d, self.rng.choice((-1, 0, 1, 100, 5000)))
        if r[0] > 0:
            self.peers.append(r[0])
            del self.peers[:-PEERS]

    def transfer(self, p: int, worker: int, d: int) -> None:
        n = self.rng.choice((0, 1, 100, 3000, 20000))
        self.step(Op.SEND if self.rng.random() < 0.55 else Op.RECV, worker, d, n)
        if worker in self.blocked:
            self.blocked_on[worker] = (p, d)

    def overlapped_op(self, t: int, d: int) -> None:
        op = Op.WSASEND if self.rng.random() < 0.5 else Op.WSARECV
        mode = Mode.EVENT if self.rng.random() < 0.5 else Mode.ROUTINE
        r = self.step(op, t, d, self.rng.choice((1, 500, 9000)), mode)
        if r[0] > 0:
            self.ops += 1
            self.overlapped.append(r[0])
            del self.overlapped[:-64]

    def peer_traffic(self) -> None:
        if not self.peers:
            self.step(Op.ADVANCE, -1, 0, 1)
            return
        c = self.rng.choice(self.peers)
        roll = self.rng.random()
        if roll < 0.45:
            self.step(Op.PEER_RECV, -1, c, self.rng.choice((1, 1000, 100000)))
        elif roll < 0.9:
            self.step(Op.PEER_SEND, -1, c, self.rng.choice((1, 700, 5000)))
        elif roll < 0.97:
            self.step(Op.PEER_CLOSE, -1, c)
        else:
            self.step(Op.PEER_RESET, -1, c)

    def option(self, t: int, d: int) -> None:
        roll = self.rng.random()
        if roll < 0.5:
            self.step(Op.SETSOCKOPT_LINGER, t, d, self.rng.randrange(2), self.rng.choice((0, 1, 5)))
        elif roll < 0.7:
            self.step(Op.SETSOCKOPT_DONTLINGER, t, d, self.rng.randrange(2))
        elif roll < 0.85:
            self.step(Op.ASYNCSELECT, t, d, self.rng.choice(MASKS))
        else:
            self.step(Op.GETSOCKOPT_LINGER, t, d)

    def duplicate(self, p: int, t: int, d: int) -> None:
        other = 1 - p
        if len(self.pools[other]) < POOL:
            r = self.step(Op.DUPLICATE, t, d, other)
            if r[0] >= 0:
                self.pools[other].append(r[0])

    def admin_close(self, p: int, d: int) -> None:
        """A close that never blocks: nonblocking first (a linger close would then
        be WSAEWOULDBLOCK, CS-6), and abortive if it would block."""
        admin = 2 * p
        self.step(Op.IOCTLSOCKET_FIONBIO, admin, d, 1)
        r = self.step(Op.CLOSESOCKET, admin, d)
        if r[1] == R_SOCKET_ERROR and r[2] == WSAEWOULDBLOCK:
            self.step(Op.SETSOCKOPT_LINGER, admin, d, 1, 0)
            self.step(Op.CLOSESOCKET, admin, d)
        self.forget(p, d)

    def worker_close(self, p: int, d: int) -> None:
        """Any close, a blocking linger close included (the entry goes at once, CS-7)."""
        r = self.step(Op.CLOSESOCKET, 2 * p + 1, d)
        if r[1] != R_SOCKET_ERROR or r[2] != WSAEWOULDBLOCK:
            self.forget(p, d)

    def observe(self, t: int) -> None:
        roll = self.rng.random()
        if roll < 0.5:
            self.step(Op.GETMESSAGE, t)
        elif roll < 0.7:
            self.step(Op.SLEEPEX, t)
        elif roll < 0.85 and self.overlapped:
            self.step(Op.OVL, -1, self.rng.choice(self.overlapped))
        else:
            self.step(Op.GETLASTERROR, t)

    def net_flap(self) -> None:
        self.step(Op.NET_DOWN)
        self.step(Op.ADVANCE, -1, 0, 10)
        self.step(Op.NET_UP)

    def unblock(self, worker: int) -> None:
        """Let time end a linger close (secs <= 5 here); else close the descriptor
        the worker is blocked on from the admin (CS-7 cancels the call); else
        clean the process up."""
        p = worker // 2
        self.step(Op.ADVANCE, -1, 0, 6000)
        where = self.blocked_on.get(worker)
        if worker in self.blocked and where is not None:
            self.admin_close(p, where[1])
        if worker in self.blocked:
            self.restart(p)
        assert worker not in self.blocked, f"t{worker} still blocked"

    def restart(self, p: int) -> None:
        """cleanup (resets and frees everything of p, interrupts its threads), startup."""
        self.step(Op.CLEANUP, 2 * p)
        self.step(Op.STARTUP, 2 * p, 0, 2, 2)
        self.pools[p].clear()


#: one sample: steps, seconds, rss bytes, sockets and operations created, settling passes
Sample = tuple[int, float, int, int, int, int]
#: the soak's bounds (issue 17): RSS after the first world, throughput of the last interval
RSS_GROWTH_MAX = 0.10
THROUGHPUT_MIN = 0.80


def soak(
    module: ModuleType,
    steps: int,
    every: int,
    seed: int = 1,
    report: Callable[[str], None] | None = print,
    profile_name: str = "documented",
    world_steps: int = 0,
) -> list[Sample]:
    """Run the churn; returns samples (steps, seconds, rss, sockets, ops, passes).

    With ``world_steps`` > 0 the engine is replaced by a fresh one every that
    many steps (the old world and its records are dropped), so RSS must stay
    flat: any growth is a leak.  ``passes`` counts settling passes over all
    worlds (``Engine.work``)."""
    limits = Limits(sockets=1 << 20, descriptors=1 << 20)

    def new_world(old: Churn | None) -> Churn:
        fresh = Churn(module.Engine(PROFILES.get(profile_name, DOCUMENTED), limits),
                      old.rng if old else random.Random(seed))  # fmt: skip
        if old is not None:
            fresh.steps, fresh.sockets, fresh.ops = old.steps, old.sockets, old.ops
        fresh.step(Op.STARTUP, 0, 0, 2, 2)
        fresh.step(Op.STARTUP, 2, 0, 2, 2)
        return fresh

    churn = new_world(None)
    engine = churn.engine
    world_start = 0
    passes_before = 0  # the passes of the worlds dropped so far
    samples: list[Sample] = []
    start = time.perf_counter()
    next_sample = 0
    while True:
        if churn.steps >= next_sample:
            sample = (churn.steps, time.perf_counter() - start, rss_bytes(), churn.sockets,
                      churn.ops, passes_before + engine.work)  # type: ignore[attr-defined]  # fmt: skip
            samples.append(sample)
            if report:
                report(_row(sample, samples[0], samples[-2] if len(samples) > 1 else None))
            bad = engine.check_invariants()  # type: ignore[attr-defined]
            if bad:
                raise AssertionError(f"invariants broken after {churn.steps} steps: {bad[:5]}")
            next_sample += every
        if churn.steps >= steps:
            break
        if world_steps and churn.steps - world_start >= world_steps:
            passes_before += engine.work  # type: ignore[attr-defined]
            churn = new_world(churn)
            engine = churn.engine
            world_start = churn.steps
        churn.action()
    return samples


def interval(a: Sample, b: Sample) -> tuple[float, float]:
    """Steps per second and settling passes per step from sample ``a`` to ``b``."""
    n = max(1, b[0] - a[0])
    return n / max(b[1] - a[1], 1e-9), (b[5] - a[5]) / n


def _row(s: Sample, first: Sample, before: Sample | None) -> str:
    n, secs, rss, socks, ops, _ = s
    per = (rss - first[2]) / max(1, socks + ops - first[3] - first[4])
    rate, passes = interval(before, s) if before is not None else (0.0, 0.0)
    return (f"{n:>10} steps {secs:8.1f} s {rate:>9.0f} steps/s {passes:5.2f} passes/step  "
            f"rss {rss / 2**20:7.1f} MiB  sockets {socks:>8} ops {ops:>8}  "
            f"+{per:5.0f} B/record")  # fmt: skip


def growth_per_record(samples: list[Sample]) -> float:
    """RSS growth from the second sample to the last, per socket or operation created."""
    a, b = samples[1], samples[-1]
    return (b[2] - a[2]) / max(1, (b[3] + b[4]) - (a[3] + a[4]))


def verdict(samples: list[Sample], warmup: int) -> tuple[list[str], bool]:
    """The soak's figures and whether they keep the bounds: RSS from the first
    sample at or after ``warmup`` steps to the last grows at most 10%, and the
    last interval's throughput is at least 80% of the first's."""
    after = next((s for s in samples if s[0] >= warmup), samples[-1])
    growth = samples[-1][2] / after[2] - 1
    first_rate, first_passes = interval(samples[0], samples[1])
    last_rate, last_passes = interval(samples[-2], samples[-1])
    ratio = last_rate / first_rate
    ok = growth <= RSS_GROWTH_MAX and ratio >= THROUGHPUT_MIN
    mib = 2**20
    lines = [
        f"RSS after warm-up ({after[0]} steps) {after[2] / mib:.1f} MiB, at the end "
        f"{samples[-1][2] / mib:.1f} MiB: {growth:+.1%} (bound +{RSS_GROWTH_MAX:.0%})",
        f"throughput first interval {first_rate:.0f} steps/s ({first_passes:.2f} passes/step), "
        f"last {last_rate:.0f} steps/s ({last_passes:.2f} passes/step): {ratio:.0%} of the "
        f"first (bound {THROUGHPUT_MIN:.0%})",
        f"soak {'ok' if ok else 'FAILED'}",
    ]
    return lines, ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=10**7)
    ap.add_argument("--every", type=int, default=None, help="sample every N steps")
    ap.add_argument("--engine", choices=("core", "reference"), default="core")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="documented")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--world-steps", type=int, default=10**6,
        help="a fresh engine every N steps (0: one engine throughout)",
    )  # fmt: skip
    args = ap.parse_args()
    every = args.every or max(1, args.steps // 20)
    worlds = f"a fresh world every {args.world_steps}" if args.world_steps else "one world"
    print(
        f"soak: {args.steps} steps on the {args.engine} engine ({args.profile}), seed "
        f"{args.seed}, {worlds}"
    )
    samples = soak(load_engine(args.engine), args.steps, every, args.seed,
                   profile_name=args.profile, world_steps=args.world_steps)  # fmt: skip
    if len(samples) < 3:
        return 0
    if not args.world_steps:
        print(f"RSS growth after the first sample: {growth_per_record(samples):.0f} bytes per "
              f"socket or operation created")  # fmt: skip
        return 0
    lines, ok = verdict(samples, warmup=min(args.world_steps, args.steps // 2))
    for line in lines:
        print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
