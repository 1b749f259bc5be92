"""When a core-led campaign consults the reference model.

In a campaign between a fast side (the compiled core, the *leader*) and the
reference model, the leader runs every input and the reference only some.
:class:`Policy` decides which, from the input's bytes and the leader's
canonical trace alone, so the decision costs a hash and no Python decoding.
The reference runs on an input when:

* ``start``: it is one of the first ``initial`` executions: libFuzzer runs the
  whole initial corpus (the seeds, or a resumed corpus) before it mutates;
* ``new-step``: one of the leader's steps has a record (its result and its
  events, exactly, wherever the step stands) not seen in this process before
  (a bounded set of 64-bit hashes; when it is full it starts afresh);
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

from harness.vocab import trace

POLICIES = ("core-led", "every")
DEFAULT_POLICY = "core-led"
#: the reference checks one input in this many, chosen by the CRC-32 of its bytes
DEFAULT_SAMPLE = 16
#: step records remembered before the set starts afresh (a few tens of MB at most)
DEFAULT_RECORDS = 1 << 20
#: the reasons the reference ran, in report order
REASONS = ("every", "start", "new-step", "sample")


def step_records(values: Sequence[int]) -> list[int]:
    """A 64-bit key per step of a canonical trace (:mod:`harness.vocab.trace`):
    the step's record (result and events) exactly, wherever it stands."""
    keys = []
    pos, h, w = 1, trace.STEP_HEADER, trace.EVENT_WIDTH
    raw = values.tobytes() if isinstance(values, array) else array("q", values).tobytes()
    for _ in range(values[0]):
        end = pos + h + w * values[pos + h - 1]
        keys.append(hash(raw[8 * (pos + 1) : 8 * end]))
        pos = end
    return keys


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
    capacity: int = DEFAULT_RECORDS
    executions: int = 0
    #: how many inputs the reference checked, by reason
    checked: Counter[str] = field(default_factory=Counter)
    #: the reason for the last input (None: the reference did not run)
    last: str | None = None
    _records: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.name not in POLICIES:
            raise ValueError(
                f"unknown reference policy {self.name!r} (known: {', '.join(POLICIES)})"
            )

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
        new = False
        for key in step_records(lead):
            if key not in self._records:
                new = True
                if len(self._records) >= self.capacity:
                    self._records.clear()
                self._records.add(key)
        if self.executions <= self.initial:
            return "start"
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
