"""The libFuzzer dictionary for the differential target.

Each entry is the 4-byte encoding of one step that reaches a rare branch of
the close path (abortive and lingering closes, duplicates, overlapped
operations, peer pressure, time), encoded in the context of the prelude
(``s1`` and ``c1`` live), so libFuzzer can splice whole meaningful steps.
Regenerate with ``python -m harness.fuzz.dictionary > harness/fuzz/fuzz_differential.dict``;
a test checks that the shipped file is current.
"""

from __future__ import annotations

from harness.lang.encoding import encode
from harness.lang.parser import parse

PRELUDE = "t0: startup 2.2\nt2: startup 2.2\nt0: s1 = socket stream\nt0: c1 = connect s1\n"
STEPS = (
    "t0: setsockopt s1 SO_LINGER 1 0",
    "t0: setsockopt s1 SO_LINGER 1 5",
    "t0: setsockopt s1 SO_DONTLINGER 0",
    "t0: ioctlsocket s1 FIONBIO 1",
    "t0: closesocket s1",
    "t1: closesocket s1",
    "t0: s2 = duplicate s1 0",
    "t0: s2 = duplicate s1 1",
    "t0: send s1 65536",
    "t0: send s1 100",
    "t1: recv s1 100",
    "t0: o1 = wsasend s1 102400 event",
    "t0: o1 = wsarecv s1 100 routine",
    "t0: shutdown s1 SD_SEND",
    "t0: asyncselect s1 FD_READ|FD_WRITE|FD_CLOSE",
    "t0: cleanup",
    "t0: startup 1.1",
    "t0: cancelblocking",
    "t0: sleepex",
    "t0: getmessage",
    "advance 5000",
    "advance 1000",
    "peer_recv c1 65536",
    "peer_send c1 10",
    "peer_close c1",
    "peer_reset c1",
    "net_down",
    "net_up",
)


def entries() -> list[tuple[str, bytes]]:
    out = []
    for text in STEPS:
        data = encode(parse(PRELUDE + text + "\n"))
        assert data[0] & 7 == 0  # the full prelude
        out.append((text, data[-4:]))
    return out


def render() -> str:
    lines = ["# libFuzzer dictionary for fuzz_differential: one step per entry", ""]
    for text, data in entries():
        escaped = "".join(f"\\x{b:02x}" for b in data)
        name = "".join(c if c.isalnum() else "_" for c in text).strip("_")
        lines.append(f"# {text}")
        lines.append(f'{name}="{escaped}"')
    lines.append('prelude_connected="\\x00"')
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
