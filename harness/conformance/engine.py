"""The interface of a real engine: what it declares it can run
(:class:`Capabilities`), what it observed (:class:`Observation`,
:class:`RealRun`) and the protocol it serves (:class:`ExternalEngine`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from harness.lang.program import Invalid, Program, Step, Var
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
#: WSAAsyncSelect messages, drained after every step and compared at the step
#: during which they were posted.
MESSAGES = "messages"
OBSERVABLES = (RESULTS, PEER, COMPLETIONS, OVERLAPPED, MESSAGES)

#: Descriptor forms a step's target can take (``Capabilities.descriptor_forms``):
#: a variable bound by ``socket``/``duplicate``, ``INVALID_SOCKET``, a raw ``#N``.
VARIABLE, INVALID, RAW = "variable", "invalid", "raw"
#: Socket types (``Capabilities.transfer_types``): what ``socket`` takes.
STREAM, DGRAM = "stream", "dgram"


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
    #: The descriptor forms a call's target may take (VARIABLE, INVALID, RAW).
    descriptor_forms: frozenset[str] = frozenset({VARIABLE, INVALID})
    #: Socket types whose ``connect``/``send``/``recv``/``wsasend``/``wsarecv``
    #: the engine can compare (datagram transfer is a model restriction).
    transfer_types: frozenset[str] = frozenset({STREAM})
    #: Target processes ``duplicate S PID`` may name.
    duplicate_pids: frozenset[int] = frozenset({0})
    #: A blocked call must stay blocked this long to count as blocked when the
    #: model says it blocks (``block_wait`` applies when the model says it
    #: returns; decision D56).
    block_confirm: float = 0.02
    #: The ``@limits`` a program may have (None: any; the model's cut stops the
    #: comparison where its buffers and the real ones part).  The fuzzer's
    #: grammar (harness/conformance/grammar.py) reads this with the above.
    limits: tuple[Limits, ...] | None = None
    #: Bytes the peer may send toward the program's socket (unread ones included)
    #: that a real stack is sure to buffer; past it a ``peer_send`` can be partial
    #: there and never in the model, so the comparison stops (decision D71).
    receive_capacity: int = 1 << 20
    #: Unread bytes of the program's sends that a real connection has surely
    #: delivered to the peer when the send returns (0: none is assumed).  Up to
    #: it, steps whose outcome cannot tell where the bytes wait are compared
    #: while the model's window holds part of them back (decision D85).
    delivery: int = 0
    #: Steps that bring the engine down: (op, condition in the words of
    #: harness/conformance/conditions.py, why).  The comparison ends before such
    #: a step where the condition holds in the model's state (decision D84).
    crashes: tuple[tuple[Op, str, str], ...] = ()

    def why_not(self, step: Step, dgram: frozenset[str] | set[str] = frozenset()) -> str | None:
        """Why the engine cannot run ``step`` (None: it can).

        ``dgram`` names the variables bound to datagram sockets so far.  The
        answer depends only on the step and those names, so a generator can ask
        it step by step (docs/engines.md, "Real engines")."""
        if step.op not in self.ops:
            return "not an operation of this engine"
        if step.thread is not None and step.thread not in self.threads:
            return f"thread t{step.thread} (process p{step.thread // 2}) is out of scope"
        target = step.target
        if step.op == Op.DUPLICATE and step.args and step.args[0] not in self.duplicate_pids:
            return (
                f"only duplicates into process {', '.join(map(str, sorted(self.duplicate_pids)))}"
            )
        if step.thread is not None and target is not None:
            form = (
                VARIABLE
                if isinstance(target, Var)
                else INVALID
                if isinstance(target, Invalid)
                else RAW
            )
            if form not in self.descriptor_forms:
                return "raw descriptor values have no real counterpart"
        transfer = (Op.CONNECT, Op.SEND, Op.RECV, Op.WSASEND, Op.WSARECV)
        if (
            DGRAM not in self.transfer_types
            and step.op in transfer
            and isinstance(target, Var)
            and target.name in dgram
        ):
            return "datagram transfer is a model restriction"
        if step.op in (Op.SEND, Op.RECV, Op.WSASEND, Op.WSARECV, Op.PEER_RECV, Op.PEER_SEND):
            if step.args[0] > self.max_count:
                return f"counts above {self.max_count} bytes"
        return None


@dataclass(frozen=True)
class Observation:
    """What a run showed at one step, reduced to comparable text.

    ``result`` is None when there is nothing to compare (a result the engine
    made up, or a ``rejected`` line).
    """

    result: str | None
    completions: tuple[str, ...] = ()
    #: WSAAsyncSelect messages posted during the step (``FD_READ s1 0``), in order.
    messages: tuple[str, ...] = ()
    #: The step's descriptor variable names a socket other than the one it was
    #: bound to: its descriptor was closed and a later socket took its number.
    #: The model and a real stack number descriptors differently, so where one
    #: side reused the number and the other did not, the comparison ends.
    reused: bool = False


@dataclass(frozen=True)
class RealRun:
    """An external run: one observation per step run, and why it stopped early."""

    observations: tuple[Observation, ...]
    #: (step index, reason) when the engine could not go on.
    stopped: tuple[int, str] | None = None
    #: True when it stopped because the engine itself failed (not a skip).
    failed: bool = False
    #: Threads still blocked in a call when the run ended (left behind).
    blocked_threads: int = 0


class ExternalEngine(Protocol):
    """A real implementation behind the conformance oracle."""

    name: str
    capabilities: Capabilities

    def run(
        self,
        program: Program,
        limit: int,
        expect: Sequence[Observation] | None = None,
        timeout: float | None = None,
    ) -> RealRun:
        """Run the first ``limit`` steps of ``program``.

        ``expect``: the model's observations of those steps, used only to
        choose how long to wait (decision D56); the run reports what the
        engine did whatever they say.  ``timeout``: seconds the whole program
        may take; past it the run stops with an engine failure naming the step.
        (A :class:`~harness.conformance.session.SessionEngine` also takes
        ``exact=True``: ``expect`` is one model's run, so the run may stop after
        the first step that differs from it.)
        """
        ...

    def close(self) -> None: ...


class FixedEngine:
    """An external engine whose run of a program is known whole beforehand (a
    recorded trace, a model's run): :meth:`observe` gives it, and :meth:`run`
    cuts it at the limit, whatever the wait hints and the timeout say."""

    name: str
    capabilities: Capabilities

    def observe(self, program: Program) -> RealRun:
        """The whole run of ``program``."""
        raise NotImplementedError

    def run(self, program: Program, limit: int, *hints: object, **more: object) -> RealRun:
        """The first ``limit`` steps of the run (the wait hints and the timeout
        of :meth:`ExternalEngine.run` change nothing here)."""
        real = self.observe(program)
        if len(real.observations) <= limit:
            return real
        return RealRun(real.observations[:limit])

    def close(self) -> None:
        pass
