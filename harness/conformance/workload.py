"""Seeded random programs that a real engine can run whole: the benchmark's
fuzz-size workload (bench/test_conformance_engines.py) and a quick way to
look for differences by hand (``python -m harness.conformance.workload``).

Every step is one the engine declares (``Capabilities.why_not``), on the
variables the program has bound so far; counts are small, so the model's
buffers and the cut matter as they do in a campaign.  This is not the
fuzzer's generator (that reads bytes, harness/lang/encoding.py); it only
makes programs of the size and mix the fuzzer runs.
"""

from __future__ import annotations

import random

from harness.conformance.engine import Capabilities
from harness.lang.parser import parse
from harness.lang.program import Program
from harness.vocab.constants import Op

_MASKS = ("FD_READ", "FD_CLOSE", "FD_READ|FD_CLOSE", "FD_READ|FD_WRITE|FD_CLOSE", "0")


def random_program(
    rng: random.Random, caps: Capabilities, steps: int = 20, name: str = "w.wsa"
) -> Program:
    """A program of ``steps`` steps (after ``startup``) that ``caps`` supports."""
    threads = sorted(t for t in caps.threads if t < 2)
    socks: list[str] = []
    peers: list[str] = []
    ops: list[str] = []
    lines = ["t0: startup 2.2"]
    counter = {"s": 0, "c": 0, "o": 0}

    def new(kind: str) -> str:
        counter[kind] += 1
        return f"{kind}{counter[kind]}"

    def count() -> int:
        return rng.choice((1, 10, 100, 300, 1000))

    while len(lines) < steps + 1:
        t = f"t{rng.choice(threads)}: "
        s = rng.choice(socks) if socks else None
        choice = rng.random()
        if s is None or choice < 0.08:
            v = new("s")
            socks.append(v)
            lines.append(f"{t}{v} = socket stream")
        elif choice < 0.20:
            c = new("c")
            peers.append(c)
            window = rng.choice(("", "", " window=0", " window=100"))
            lines.append(f"{t}{c} = connect {s}{window}")
        elif choice < 0.30:
            lines.append(f"{t}send {s} {count()}")
        elif choice < 0.38:
            lines.append(f"{t}recv {s} {count()}")
        elif choice < 0.50 and peers:
            c = rng.choice(peers)
            kind = rng.random()
            if kind < 0.45:
                lines.append(f"peer_send {c} {count()}")
            elif kind < 0.8:
                lines.append(f"peer_recv {c} {count()}")
            elif kind < 0.92:
                lines.append(f"peer_close {c}")
            else:
                lines.append(f"peer_reset {c}")
        elif choice < 0.55:
            lines.append(f"{t}ioctlsocket {s} FIONBIO {rng.choice((0, 1))}")
        elif choice < 0.61:
            a, b = rng.choice(((1, 0), (1, 1), (1, 5), (0, 3)))
            lines.append(f"{t}setsockopt {s} SO_LINGER {a} {b}")
        elif choice < 0.64:
            lines.append(f"{t}setsockopt {s} SO_DONTLINGER {rng.choice((0, 1))}")
        elif choice < 0.67:
            lines.append(f"{t}getsockopt {s} {rng.choice(('SO_LINGER', 'SO_DONTLINGER'))}")
        elif choice < 0.71:
            how = rng.choice(("SD_SEND", "SD_RECEIVE", "SD_BOTH"))
            lines.append(f"{t}shutdown {s} {how}")
        elif choice < 0.74:
            v = new("s")
            socks.append(v)
            lines.append(f"{t}{v} = duplicate {s} 0")
        elif choice < 0.80:
            lines.append(f"{t}closesocket {s}")
        elif choice < 0.83:
            lines.append(f"{t}getlasterror")
        elif choice < 0.85:
            lines.append(f"advance {rng.choice((10, 100))}")
        elif Op.WSARECV in caps.ops and choice < 0.90:
            o = new("o")
            ops.append(o)
            call = rng.choice(("wsasend", "wsarecv"))
            lines.append(f"{t}{o} = {call} {s} {count()} {rng.choice(('event', 'routine'))}")
        elif Op.OVL in caps.ops and choice < 0.92 and ops:
            lines.append(f"ovl {rng.choice(ops)}")
        elif Op.ASYNCSELECT in caps.ops and choice < 0.95:
            lines.append(f"{t}asyncselect {s} {rng.choice(_MASKS)}")
        elif Op.GETMESSAGE in caps.ops and choice < 0.97:
            lines.append(f"{t}getmessage")
        elif Op.SLEEPEX in caps.ops and choice < 0.99:
            lines.append(f"{t}sleepex")
        else:
            lines.append(f"{t}getlasterror")
    return parse("\n".join(lines) + "\n", name)


def random_programs(seed: int, count: int, caps: Capabilities, steps: int = 20) -> list[Program]:
    rng = random.Random(seed)
    return [random_program(rng, caps, steps, f"w{seed}-{i:04d}.wsa") for i in range(count)]


def main(argv: list[str] | None = None) -> int:
    """``python -m harness.conformance.workload ENGINE SEED COUNT``: compare
    random programs with the engine's own profile and print each difference."""
    import sys
    from collections import Counter
    from pathlib import Path

    from harness.conformance import engine_profile, open_engine
    from harness.conformance.compare import DIFFER, ERROR, compare_program
    from harness.conformance.known_differences import apply_known, load_known
    from harness.lang.render import format_program
    from harness.vocab.profiles import get_profile

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m harness.conformance.workload ENGINE SEED COUNT", file=sys.stderr)
        return 2
    name, seed, count = args[0], int(args[1]), int(args[2])
    profile = get_profile(engine_profile(name) or "documented")
    path = Path(__file__).resolve().parents[2] / "conformance" / "known" / f"{name}.txt"
    known = load_known(path, name) if path.is_file() else {}
    engine = open_engine(name)
    tally: Counter[str] = Counter()
    try:
        for program in random_programs(seed, count, engine.capabilities):
            v = compare_program(program, engine, [profile], timeout=8.0)[profile.name]
            v, entry = apply_known(v, known)
            tally[f"known [{entry.name}]" if entry else v.kind] += 1
            if v.kind in (DIFFER, ERROR):
                print(f"## {program.filename}: {v.summary()} facts={sorted(v.facts)}")
                print("\n".join(v.detail))
                print(format_program(program))
    finally:
        engine.close()
    print("# " + ", ".join(f"{k}: {n}" for k, n in sorted(tally.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
