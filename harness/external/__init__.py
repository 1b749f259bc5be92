"""External engines: run programs against real socket implementations.

An *external engine* runs a program step by step against a real
implementation (Wine's ws2_32, the Linux kernel's TCP sockets) and reports,
for each step, what it observed in the model's own vocabulary.  The oracle
(:mod:`harness.external.compare`) compares that with the reference model only
on what the engine declares:

(a) **steps** -- :class:`Capabilities` lists the ops it can run, the threads
    it has and the largest count it moves.  A program with anything else is
    reported as ``skipped: unsupported step X at line N``.
(b) **observables** -- which parts of a run it can compare (the constants
    below).  Byte counts are compared by class (``0``, all ``N``, or
    ``partial``), never exactly; descriptor values, events other than
    completions, and the model's snapshot are never compared.
(c) **time** -- ``advance MS`` sleeps in real time only while a closesocket is
    blocked, and only up to ``max_sleep_ms``; a longer one skips the rest of
    the program.  Otherwise time has no real counterpart and ``advance`` only
    lets in-flight completions arrive.

Buffering: a real stack buffers megabytes where the model's ``sndbuf`` and
``window`` hold bytes.  A connection counts as full in the real stack only
after a single send of at least ``saturation`` bytes; wherever the model's
buffers are full and the real ones are not (or the other way round), the
comparison stops (see :mod:`harness.external.model`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from harness.constants import Op
from harness.program import Program

#: Results of calls made by threads (socket, send, closesocket, ...).
RESULTS = "results"
#: Results of the peer steps: what the remote end sees (data, FIN as 0, resets).
PEER = "peer"
#: Completions of blocked calls, reported as ``tN call -> result`` at the step
#: during which they happened.
COMPLETIONS = "completions"
#: ``ovl`` observations and ``sleepex`` counts.
OVERLAPPED = "overlapped"
OBSERVABLES = (RESULTS, PEER, COMPLETIONS, OVERLAPPED)


@dataclass(frozen=True)
class Capabilities:
    """What an external engine declares: steps, observables, time, sizes."""

    ops: frozenset[Op]
    #: Ops it runs whose results it cannot measure (it makes them up, e.g.
    #: Linux's ``startup``): their results are never compared.
    synthesized: frozenset[Op]
    threads: frozenset[int]
    observables: frozenset[str]
    #: Largest count a transfer step may move.
    max_count: int
    #: Longest ``advance`` slept in real time while a closesocket is blocked.
    max_sleep_ms: int
    #: A single send of this many bytes fills the real stack's buffers.
    saturation: int
    #: How long a call may take before it counts as ``blocked`` (seconds).
    block_wait: float
    #: How long to wait after a step for completions and for peer data (seconds).
    settle: float
    #: One line per mapping the engine makes (for docs and ``--explain``).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Observation:
    """What a run showed at one step, reduced to comparable text.

    ``result`` is None when there is nothing to compare (a result the engine
    made up, or a ``rejected`` line).
    """

    result: str | None
    completions: tuple[str, ...] = ()


@dataclass(frozen=True)
class RealRun:
    """An external run: one observation per step run, and why it stopped early."""

    observations: tuple[Observation, ...]
    #: (step index, reason) when the engine could not go on.
    stopped: tuple[int, str] | None = None
    #: True when it stopped because the engine itself failed (not a skip).
    failed: bool = False


class ExternalEngine(Protocol):
    """A real implementation behind the conformance oracle."""

    name: str
    capabilities: Capabilities

    def run(self, program: Program, limit: int) -> RealRun:
        """Run the first ``limit`` steps of ``program``."""
        ...

    def close(self) -> None: ...


EXTERNAL_ENGINES = ("linux", "wine")


def open_engine(name: str) -> ExternalEngine:
    """Start the external engine ``name`` (``linux`` or ``wine``)."""
    from harness.errors import HarnessError

    if name == "linux":
        from harness.external.linux import LinuxEngine

        return LinuxEngine()
    if name == "wine":
        from harness.external.wine import WineEngine

        return WineEngine()
    raise HarnessError(f"unknown external engine {name!r} (known: {', '.join(EXTERNAL_ENGINES)})")
