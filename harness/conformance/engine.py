"""The interface of a real engine: what it declares it can run
(:class:`Capabilities`), what it observed (:class:`Observation`,
:class:`RealRun`) and the protocol it serves (:class:`ExternalEngine`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from harness.lang.program import Program
from harness.vocab.constants import Op
from harness.vocab.profiles import Limits

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
    # What else a program may hold and still run there (the fuzzer generates only
    # this: harness/conformance/grammar.py; session.unsupported checks it).
    #: Raw descriptor values (``closesocket #4``) have a real counterpart.
    raw_descriptors: bool = False
    #: connect/send/recv/wsasend/wsarecv on a datagram socket can be compared.
    datagram_transfer: bool = False
    #: The processes ``duplicate S PID`` may target.
    duplicate_pids: frozenset[int] = frozenset({0})
    #: The ``@limits`` a program may have (None: any; the model's cut stops the
    #: comparison where its buffers and the real ones part).
    limits: tuple[Limits, ...] | None = None


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
