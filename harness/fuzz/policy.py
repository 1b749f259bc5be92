"""When a core-led campaign consults the reference model.

In a campaign between a fast side (the compiled core, the *leader*) and the
reference model, the leader runs every input and the reference only some.
:class:`Policy` decides which, from the input's bytes and the leader's
canonical trace alone, so the decision costs a hash and no Python decoding.
The reference runs on an input when:

* ``start``: it is one of the first ``initial`` executions: libFuzzer runs the
  whole initial corpus (the seeds, or a resumed corpus) before it mutates;
* ``warm-up``: it is one of the ``warmup`` executions right after those:
  the first mutations of the seeds, nearest to the behaviours they pin;
* ``new-step``: the leader's trace has a record not seen in this process
  before: a step's (its result and its events, exactly, wherever it stands)
  or a coarse one of the final snapshot (:func:`step_records`), in a bounded
  set of 64-bit keys that starts afresh when it is full (in C,
  ``harness._records.RecordSet``; :class:`KeySet` is the same set in Python,
  for pure-Python mode);
* ``sample``: the CRC-32 of the bytes falls in a deterministic 1-in-``sample``
  share, so inputs made only of step records already seen are still sampled.

The campaign replays the whole final corpus on both sides at the end
(:mod:`harness.fuzz.campaign`).  ``every`` (``--reference every``) runs the
reference on every input, as campaigns did before.  docs/campaigns.md gives
the measured contribution of each part.
"""

from __future__ import annotations

import json
import zlib
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import import_module
from typing import Protocol

from harness.engines import EngineError, no_core
from harness.vocab import trace

POLICIES = ("core-led", "every")
DEFAULT_POLICY = "core-led"
#: the reference checks one input in this many, chosen by the CRC-32 of its bytes
DEFAULT_SAMPLE = 16
#: records remembered before the set starts afresh (a few tens of MB at most)
DEFAULT_RECORDS = 1 << 20
#: the reasons the reference ran, in report order
REASONS = ("every", "start", "warm-up", "new-step", "sample")
#: the inputs right after the start that are all checked: the seeds' nearest
#: mutations (about half a second of the reference's time)
DEFAULT_WARMUP = 1024


def step_records(values: Sequence[int]) -> list[int]:
    """64-bit keys of a canonical trace's records (:mod:`harness.vocab.trace`).

    Each step's record (its result and events) exactly, wherever it stands.
    The final snapshot's, coarser, since its counters and clocks differ from
    program to program: each thread's part exactly; each process's startup
    count, version, whether it has no, one or more entries, and its messages'
    (fd, error); and, per socket, peer and operation row, each field's value
    clamped to -1, 0, 1 or 2-and-more, paired with the field and the row's
    state (a socket's lifecycle, a peer's closed flag, an operation's status).
    A trace whose layout does not hold (a negative count, too few or too many
    values) raises ValueError or IndexError.
    """
    raw = values.tobytes() if isinstance(values, array) else array("q", values).tobytes()
    keys: list[int] = []
    add = keys.append
    pos, h, w = 1, trace.STEP_HEADER, trace.EVENT_WIDTH
    for _ in range(_count(values, 0)):
        end = pos + h + w * _count(values, pos + h - 1)
        add(hash(("step", raw[8 * (pos + 1) : 8 * end])))
        pos = end
    pos += 2  # the clock and the network
    for p in range(2):  # processes: startup, version, entries, messages
        entries = _count(values, pos + 2)
        messages = pos + 3 + 2 * entries
        count = _count(values, messages)
        shown = tuple(values[messages + 1 + 3 * k + j] for k in range(count) for j in (0, 2))
        add(hash((p, values[pos], values[pos + 1], min(entries, 2), shown)))
        pos = messages + 1 + 3 * count
    for _ in range(4):  # threads: last error, blocked in, routines
        end = pos + 3 + _count(values, pos + 2)
        add(hash(("thread", raw[8 * pos : 8 * end])))
        pos = end
    for table, (width, state) in enumerate(_ROWS):  # sockets, peers, operations
        rows, pos = _count(values, pos), pos + 1
        for _ in range(rows):
            base = ((_TAG + table) * 64 + values[pos + state]) * 256
            keys += [
                base + 4 * i + (3 if v >= 2 else v + 1 if v >= -1 else 0)
                for i, v in enumerate(values[pos + 1 : pos + width], 1)
            ]
            pos += width
    if pos != len(values):
        raise ValueError(f"the trace has {len(values)} values, its layout {pos}")
    return keys


def _count(values: Sequence[int], pos: int) -> int:
    """The count at ``pos`` of the trace (IndexError past its end)."""
    n = values[pos]
    if n < 0:
        raise ValueError(f"the trace's layout has a negative count at {pos}")
    return n


#: per snapshot table: the row's width and the field that gives its state
_ROWS = (
    (len(trace.SOCKET_FIELDS), trace.SOCKET_FIELDS.index("lifecycle")),
    (len(trace.PEER_FIELDS), trace.PEER_FIELDS.index("closed")),
    (len(trace.OP_FIELDS), trace.OP_FIELDS.index("status")),
)
#: keeps the snapshot's small integer keys apart from the hashed ones
_TAG = 1 << 20


class Records(Protocol):
    """A bounded set of trace records: ``RecordSet`` (C) or :class:`KeySet`."""

    def add(self, values: Sequence[int]) -> int:
        """Add the trace's records: 1 if one is new, 0 if none, -1 if malformed."""
        ...

    def __len__(self) -> int: ...


class KeySet:
    """:func:`step_records`' keys in a Python set: the readable form of the
    compiled ``RecordSet``, used in pure-Python mode (and in the test that
    compares the two)."""

    def __init__(self, capacity: int = DEFAULT_RECORDS) -> None:
        self.capacity = capacity
        self._keys: set[int] = set()

    def add(self, values: Sequence[int]) -> int:
        try:
            keys = step_records(values)
        except (IndexError, ValueError, OverflowError):
            return -1
        new = False
        for key in keys:
            if key not in self._keys:
                new = True
                if len(self._keys) >= self.capacity:
                    self._keys.clear()
                self._keys.add(key)
        return int(new)

    def __len__(self) -> int:
        return len(self._keys)


def record_set(capacity: int = DEFAULT_RECORDS) -> Records:
    """The compiled record set, or :class:`KeySet` in pure-Python mode."""
    if no_core():
        return KeySet(capacity)
    try:
        module = import_module("harness._records")  # built beside the core (setup.py)
    except ImportError as exc:
        raise EngineError(
            "harness._records (the campaigns' record set) is not built: run `make` (or "
            f"`pip install .`), or set WSA_HARNESS_NO_CORE=1 for pure-Python mode ({exc})"
        ) from None
    records: Records = module.RecordSet(capacity)
    return records


def sampled(data: bytes, sample: int) -> bool:
    """True for the deterministic 1-in-``sample`` share of inputs."""
    return sample > 0 and zlib.crc32(data) % sample == 0


@dataclass
class Policy:
    """Which inputs the reference checks; counts why it ran."""

    name: str = DEFAULT_POLICY
    #: executions at the start that are all checked (the initial corpus)
    initial: int = 0
    sample: int = DEFAULT_SAMPLE
    warmup: int = DEFAULT_WARMUP
    capacity: int = DEFAULT_RECORDS
    executions: int = 0
    #: how many inputs the reference checked, by reason
    checked: Counter[str] = field(default_factory=Counter)
    #: the reason for the last input (None: the reference did not run)
    last: str | None = None
    _records: Records | None = None

    def __post_init__(self) -> None:
        if self.name not in POLICIES:
            raise ValueError(
                f"unknown reference policy {self.name!r} (known: {', '.join(POLICIES)})"
            )
        if self._records is None and self.name != "every":
            self._records = record_set(self.capacity)

    def consult(self, data: bytes, lead: Sequence[int]) -> str | None:
        """Count one execution; the reason to run the reference on it, or None."""
        self.executions += 1
        reason = self.last = self._reason(data, lead)
        if reason is not None:
            self.checked[reason] += 1
        return reason

    def _reason(self, data: bytes, lead: Sequence[int]) -> str | None:
        if self.name == "every":
            return "every"
        assert self._records is not None
        new = self._records.add(lead)
        if new < 0:
            return "new-step"  # a malformed trace: the reference's run reports it
        if self.executions <= self.initial:
            return "start"
        if self.executions <= self.initial + self.warmup:
            return "warm-up"
        if new:
            return "new-step"
        if sampled(data, self.sample):
            return "sample"
        return None

    @property
    def reference_runs(self) -> int:
        return sum(self.checked.values())

    def to_json(self) -> str:
        counts = {"executions": self.executions, **{r: self.checked[r] for r in REASONS}}
        return json.dumps({"policy": self.name, **counts}) + "\n"


@dataclass
class Checked:
    """The policy counts of one or more processes, added up (the summary's line)."""

    policy: str = ""
    executions: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, text: str) -> None:
        raw = json.loads(text)
        self.policy = self.policy or str(raw.get("policy", ""))
        self.executions += int(raw.get("executions", 0))
        for r in REASONS:
            self.reasons[r] += int(raw.get(r, 0))

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    def line(self) -> str:
        share = 100 * self.total / self.executions if self.executions else 0.0
        parts = ", ".join(f"{r} {self.reasons[r]}" for r in REASONS if self.reasons[r])
        return f"{self.total} of {self.executions} inputs ({share:.1f}%)" + (
            f": {parts}" if parts else ""
        )
