"""Memory: the compiled core gives back what it takes.

One engine keeps every socket and operation it ever made (they are part of
its snapshot, SEMANTICS.md section 11), so a leak is measured over fresh
worlds instead: about 10**6 steps of churn (sockets, connects, sends, peer
steps, wsasend/wsarecv, routines, messages, duplicates, every kind of close,
time, net down and up, cleanup) as many short runs,

* through the batch API: ``run_lowered`` on the same programs again and again;
* through the stepwise API: an ``Engine`` made, stepped, snapshotted,
  checked and dropped for every run.

Each runs in a child process that reads its resident set size (VmRSS) after a
warm-up tenth of the runs and again at the end; the growth must stay under
5 MB.  A control run that keeps some of its outputs shows that the meter sees
memory that is held on to.
"""

from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
from array import array
from pathlib import Path
from typing import Any

import pytest

from harness.engines import NO_CORE_ENV, no_core
from harness.lang.encoding import decode
from harness.lang.parser import parse
from harness.lang.program import RECORD_WIDTH, TARGET_INVALID, TARGET_NONE, TARGET_SLOT, lower
from harness.vocab.profiles import DOCUMENTED, WINDOWS, Limits, Profile

pytestmark = [
    pytest.mark.core,
    pytest.mark.slow,
    pytest.mark.skipif(no_core(), reason=f"{NO_CORE_ENV} is set: this measures the core"),
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)"),
]

TOTAL_STEPS = 1_000_000
MAX_GROWTH = 5 * 2**20
STATUS = Path("/proc/self/status")

#: Two hand-written ~30-step programs through the close path's busy corners.
PROGRAMS = [
    """@profile documented
@limits sockets=16 sndbuf=1000 window=300 descriptors=64
t0: startup 2.2
t2: startup 2.2
t0: s1 = socket stream
t0: c1 = connect s1
t0: asyncselect s1 FD_READ|FD_WRITE|FD_CLOSE
t0: send s1 1500
peer_recv c1 200
t1: o1 = wsasend s1 900 event
t1: o2 = wsarecv s1 50 routine
peer_send c1 120
t1: sleepex
t0: getmessage
ovl o1
t0: s2 = duplicate s1 1
t2: send s2 100
t0: s3 = socket stream
t0: ioctlsocket s3 FIONBIO 1
t0: c2 = connect s3 window=100
t0: send s3 5000
t0: setsockopt s3 SO_LINGER 1 2
t0: closesocket s3
peer_recv c1 4000
t0: closesocket s1
t2: setsockopt s2 SO_LINGER 1 1
t2: closesocket s2
advance 2500
peer_recv c2 300
peer_close c2
t0: cleanup
""",
    """@profile windows
@limits sockets=4 sndbuf=100 window=100 descriptors=4
t0: startup 2.2
t2: startup 2.2
t0: s1 = socket stream
t0: c1 = connect s1
t0: send s1 400
t1: o1 = wsasend s1 300 routine
t2: s2 = socket stream
t2: c2 = connect s2
t2: o2 = wsarecv s2 10 event
t2: recv s2 10
peer_send c2 5
t1: s3 = duplicate s1 1
t3: o3 = wsarecv s3 7 routine
t1: shutdown s1 SD_SEND
t1: setsockopt s1 SO_LINGER 1 0
t1: closesocket s1
peer_recv c1 150
peer_reset c1
t3: sleepex
t1: sleepex
net_down
advance 10
net_up
t3: closesocket s2
t3: closesocket s3
t3: s4 = socket dgram
t3: bind s4 7
t0: cleanup
t2: cleanup
""",
]
DECODED = 14  # plus fuzzer-made programs of 30 steps, for breadth


def workload() -> list[tuple[array[int], Profile, Limits]]:
    programs = [parse(text, f"<leak {i}>") for i, text in enumerate(PROGRAMS)]
    rng = random.Random(7)
    for i in range(DECODED):
        data = bytes([rng.randrange(256) | 0b111]) + rng.randbytes(4 * 30)
        programs.append(decode(data, (DOCUMENTED, WINDOWS)[i % 2], max_steps=30))
    return [(lower(p), p.profile, p.limits) for p in programs]


def rss() -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status")


def run_stepwise(core: Any, lowered: array[int], profile: Profile, limits: Limits) -> Any:
    """One fresh Engine through a lowered program step by step (slots resolved
    as docs/engines.md says), then its snapshot and invariants."""
    engine = core.Engine(profile, limits)
    slots = [0] * lowered[0]
    for base in range(1, len(lowered), RECORD_WIDTH):
        op, thread, bind, tk, tv, x1, x2, x3 = lowered[base : base + RECORD_WIDTH]
        if tk == TARGET_SLOT:
            tv = slots[tv]
        elif tk == TARGET_NONE:
            tv = 0
        elif tk == TARGET_INVALID:
            tv = -1
        record = engine.step(op, thread, tv, x1, x2, x3)
        if bind >= 0:
            slots[bind] = record[0]
    engine.snapshot()
    assert engine.check_invariants() == []
    return engine


def child(mode: str, total_steps: int, keep_every: int) -> dict[str, int]:
    """Run about ``total_steps`` steps as repeated fresh runs; RSS before/after."""
    import harness._core as core

    work = workload()
    per_round = sum((len(low) - 1) // RECORD_WIDTH for low, _, _ in work)
    rounds = max(10, total_steps // per_round)
    kept: list[Any] = []
    before = 0
    for i in range(rounds):
        if i == rounds // 10:
            gc.collect()
            before = rss()
        for low, profile, limits in work:
            if mode == "batch":
                out = core.run_lowered(low, profile, limits)
            else:
                out = run_stepwise(core, low, profile, limits)
            if keep_every and i % keep_every == 0 and i >= rounds // 10:
                kept.append(out)
    gc.collect()
    return {"before": before, "after": rss(), "steps": rounds * per_round, "kept": len(kept)}


def measure(mode: str, total_steps: int = TOTAL_STEPS, keep_every: int = 0) -> dict[str, int]:
    from conftest import CORE  # (pytest puts tests/ on the path; the child does not need it)

    CORE.load()  # a core that is missing or stale fails here, with how to fix it
    proc = subprocess.run(
        [sys.executable, __file__, mode, str(total_steps), str(keep_every)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, f"child failed:\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, int] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize("mode", ["batch", "stepwise"])
def test_repeated_runs_do_not_grow_memory(mode: str) -> None:
    r = measure(mode)
    growth = r["after"] - r["before"]
    assert r["steps"] >= 0.98 * TOTAL_STEPS
    assert growth < MAX_GROWTH, (
        f"{mode}: RSS grew {growth / 2**20:.1f} MB over {r['steps']:,} steps "
        f"({r['before'] / 2**20:.1f} -> {r['after'] / 2**20:.1f} MB)"
    )


def test_the_meter_sees_memory_held_on_to() -> None:
    """Control: keeping one round's outputs in two must show as growth."""
    r = measure("batch", TOTAL_STEPS // 2, keep_every=2)
    assert r["kept"] > 0
    assert r["after"] - r["before"] > MAX_GROWTH, r


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
