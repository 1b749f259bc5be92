"""Engine faults: findings that are not a disagreement between two sides.

A Winsock failure is a value (architecture: errors are values).  An engine
that raises, dies on a signal, never returns, hands back a trace the decoder
rejects, or does far more settling work than a program of its size can need
is broken, whatever the other side says.  Each of these is a :class:`Fault`
with a signature of its own:

    crash core MemoryError at step 7        an exception (its type)
    crash core signal SIGSEGV at step 3     a fatal signal
    hang core at step 5                     no answer within the time limit
    oom core                                libFuzzer's memory limit
    bad-trace core: step 2: result kind 0   a trace trace.validate() rejects
    cost core at step 4                     more settling than the work limit

The *cause* drops the step number and adds the call (``crash core
MemoryError in closesocket``): the key that groups findings and that the
minimizer keeps while the step number moves.

Two ways to run an engine are offered.  :func:`run_side` runs in this
process: exceptions, bad traces and runaway work are caught.  :func:`guarded`
runs in a forked child with a time limit, so a hang or a fatal signal is
caught too; the command line and the campaign's triage of libFuzzer's crash
files use it.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from harness.engines import load_engine
from harness.lang.program import RECORD_WIDTH, TARGET_SLOT, Program, lower
from harness.lang.syntax import OP_NAMES
from harness.vocab import trace
from harness.vocab.constants import Op
from harness.vocab.errors import HarnessError, WorkLimitExceeded
from harness.vocab.profiles import Limits, Profile

KINDS = ("crash", "hang", "oom", "bad-trace", "cost")
#: settling passes allowed per step when a campaign checks cost (fuzz-size
#: programs need a few per socket; a lost fast path needs millions)
WORK_PER_STEP = 256
#: seconds a guarded run may take before it counts as a hang
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Fault:
    """One engine's fault on one program."""

    kind: str
    engine: str
    detail: str = ""
    #: index of the step during which it happened, when known
    step: int | None = None
    #: that step's call name
    call: str = ""

    @property
    def signature(self) -> str:
        head = f"{self.kind} {self.engine}"
        if self.kind == "bad-trace":
            return f"{head}: {self.detail}"
        if self.detail:
            head += f" {self.detail}"
        return head if self.step is None else f"{head} at step {self.step + 1}"

    @property
    def cause(self) -> str:
        """The root-cause key: kind, engine, what (not where), and the call."""
        head = f"{self.kind} {self.engine}"
        if self.detail and self.kind != "bad-trace":
            head += f" {self.detail}"
        return f"{head} in {self.call}" if self.call else head

    def same(self, other: Fault | None) -> bool:
        """The minimizer's test: the same kind of fault in the same engine."""
        if other is None or (self.kind, self.engine) != (other.kind, other.engine):
            return False
        return self.kind == "bad-trace" or self.detail == other.detail

    def render(self) -> str:
        where = f" (step {self.step + 1}: {self.call})" if self.step is not None else ""
        text = {
            "crash": "raised or died",
            "hang": "did not finish in time",
            "oom": "ran out of memory",
            "bad-trace": "returned a malformed trace",
            "cost": "did more settling work than the work limit allows",
        }[self.kind]
        return f"{self.signature}: the {self.engine} engine {text}{where}"


class EngineFault(HarnessError):
    """An engine fault, raised where a run was expected to return a trace."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.render())
        self.fault = fault


def call_name(lowered: Sequence[int], step: int | None) -> str:
    if step is None or 1 + RECORD_WIDTH * step >= len(lowered):
        return ""
    try:
        return OP_NAMES[Op(lowered[1 + RECORD_WIDTH * step])]
    except (ValueError, KeyError):
        return "?"


def _with_step(fault: Fault, lowered: Sequence[int], step: int | None) -> Fault:
    return Fault(fault.kind, fault.engine, fault.detail, step, call_name(lowered, step))


def classify(engine: str, exc: BaseException) -> Fault:
    """The fault an exception from an engine stands for."""
    if isinstance(exc, WorkLimitExceeded):
        return Fault("cost", engine)
    return Fault("crash", engine, type(exc).__name__)


def set_work_limit(module: ModuleType, per_step: int) -> None:
    """Make ``module`` raise WorkLimitExceeded past ``per_step`` passes a step
    (0: no limit).  Engines without the hook are left alone."""
    hook = getattr(module, "set_work_limit", None)
    if hook is not None:
        hook(per_step)


def run_side(
    module: ModuleType,
    engine: str,
    lowered: array[int],
    profile: Profile,
    limits: Limits,
    engine_object: Any = None,
) -> array[int]:
    """One engine's canonical trace, in this process; an exception (runaway
    work included) becomes an :class:`EngineFault` located at its step.
    ``engine_object`` (an Engine) runs the reference stepwise on that object."""
    try:
        if engine_object is not None:
            out: array[int] = module.run_engine(lowered, engine_object)
        else:
            out = module.run_lowered(lowered, profile, limits)
        return out
    except Exception as exc:
        fault = classify(engine, exc)
    raise located(fault, module, lowered, profile, limits)


def located(
    fault: Fault, module: ModuleType, lowered: Sequence[int], profile: Profile, limits: Limits
) -> EngineFault:
    """``fault`` with the step at which the stepwise API fails too, as an error."""
    return EngineFault(_with_step(fault, lowered, failing_step(module, lowered, profile, limits)))


def check_trace(engine: str, lowered: Sequence[int], values: Sequence[int]) -> None:
    """Raise a bad-trace :class:`EngineFault` unless ``values`` is well formed."""
    try:
        trace.validate(values, (len(lowered) - 1) // RECORD_WIDTH)
    except (trace.TraceFormatError, ValueError, KeyError, TypeError) as exc:
        raise EngineFault(Fault("bad-trace", engine, str(exc))) from None


def steps_of(lowered: Sequence[int]) -> list[tuple[int, ...]]:
    return [
        tuple(lowered[1 + RECORD_WIDTH * i : 1 + RECORD_WIDTH * (i + 1)])
        for i in range((len(lowered) - 1) // RECORD_WIDTH)
    ]


def drive(
    engine: Any, lowered: Sequence[int], on_step: Callable[[int], None] | None = None
) -> None:
    """Run ``lowered`` on an engine object step by step (slots resolved)."""
    slots = [0] * lowered[0]
    for i, (op, thread, bind, tk, tv, x1, x2, x3) in enumerate(steps_of(lowered)):
        if on_step is not None:
            on_step(i)
        record = engine.step(op, thread, slots[tv] if tk == TARGET_SLOT else tv, x1, x2, x3)
        if bind >= 0:
            slots[bind] = record[0]


def failing_step(
    module: ModuleType, lowered: Sequence[int], profile: Profile, limits: Limits
) -> int | None:
    """The step at which the stepwise API raises too, or None."""
    reached = [-1]
    try:
        drive(module.Engine(profile, limits), lowered, lambda i: reached.__setitem__(0, i))
    except Exception:
        return reached[0] if reached[0] >= 0 else None
    return None


# --- runs in a forked child -------------------------------------------------------------


@dataclass(frozen=True)
class ChildOutcome:
    """How a guarded call ended: ``value`` when it returned."""

    status: str  # "ok", "raised", "signal", "hang", "exit"
    value: object = None
    detail: str = ""
    #: the last progress number the child reported (a step index), or None
    progress: int | None = None


def guarded(
    fn: Callable[[Callable[[int], None]], object], timeout: float = DEFAULT_TIMEOUT
) -> ChildOutcome:
    """Call ``fn(progress)`` in a forked child with a time limit.

    ``progress(i)`` reports how far the child got (a step index).  The value
    comes back pickled; an exception comes back as its type name; a child that
    dies on a signal, exits, or outlives ``timeout`` seconds is killed and
    reported as such.  Never raises for what the child did."""
    rd, wr = os.pipe()
    prd, pwr = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, run, send the outcome, leave without cleanup
        os.close(rd)
        os.close(prd)
        code = 0
        try:

            def progress(i: int) -> None:
                os.write(pwr, i.to_bytes(4, "little", signed=True))

            outcome: tuple[object, ...] = ("ok", fn(progress))
        except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
            outcome = ("raised", type(exc).__name__, str(exc)[:300])
        try:
            data = pickle.dumps(outcome)
            view = memoryview(data)
            while view:
                view = view[os.write(wr, view) :]
        except BaseException:  # noqa: BLE001
            code = 3
        os._exit(code)
    os.close(wr)
    os.close(pwr)
    chunks: list[bytes] = []
    progress_bytes = bytearray()
    deadline = time.monotonic() + timeout
    open_fds = [rd, prd]
    timed_out = False
    try:
        while rd in open_fds:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select(open_fds, [], [], left)
            for fd in ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    open_fds.remove(fd)
                elif fd == rd:
                    chunks.append(chunk)
                else:
                    progress_bytes += chunk
        if prd in open_fds and not timed_out:
            while chunk := os.read(prd, 65536):
                progress_bytes += chunk
    finally:
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(rd)
        os.close(prd)
    whole = len(progress_bytes) // 4 * 4
    step = (
        int.from_bytes(progress_bytes[whole - 4 : whole], "little", signed=True) if whole else None
    )
    if timed_out:
        return ChildOutcome("hang", progress=step)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return ChildOutcome("signal", detail=name, progress=step)
    data = b"".join(chunks)
    if not data:
        code = os.waitstatus_to_exitcode(status)
        return ChildOutcome("exit", detail=f"status {code}", progress=step)
    outcome = pickle.loads(data)
    if outcome[0] == "ok":
        return ChildOutcome("ok", outcome[1], progress=step)
    return ChildOutcome("raised", detail=str(outcome[1]), progress=step)


def guarded_run(
    engine: str,
    lowered: array[int],
    profile: Profile,
    limits: Limits,
    timeout: float = DEFAULT_TIMEOUT,
    work_per_step: int = 0,
) -> tuple[int, ...]:
    """``engine``'s canonical trace, computed in a child with a time limit;
    any fault is an :class:`EngineFault` (located by a stepwise rerun)."""

    def batch(progress: Callable[[int], None]) -> tuple[int, ...]:
        module = load_engine(engine)
        set_work_limit(module, work_per_step)
        return tuple(module.run_lowered(lowered, profile, limits))

    outcome = guarded(batch, timeout)
    if outcome.status == "ok":
        values: tuple[int, ...] = outcome.value  # type: ignore[assignment]
        check_trace(engine, lowered, values)
        return values
    fault = _fault_of(engine, outcome)

    def steps(progress: Callable[[int], None]) -> None:
        module = load_engine(engine)
        set_work_limit(module, work_per_step)
        drive(module.Engine(profile, limits), lowered, progress)

    located = guarded(steps, timeout)
    step = located.progress if located.status != "ok" else None
    raise EngineFault(_with_step(fault, lowered, step))


def _fault_of(engine: str, outcome: ChildOutcome) -> Fault:
    if outcome.status == "hang":
        return Fault("hang", engine)
    if outcome.status == "raised":
        if outcome.detail == WorkLimitExceeded.__name__:
            return Fault("cost", engine)
        return Fault("crash", engine, outcome.detail)
    if outcome.status == "signal":
        return Fault("crash", engine, f"signal {outcome.detail}")
    return Fault("crash", engine, f"exit {outcome.detail}")


def fault_of(
    program: Program,
    engine: str,
    profile: Profile,
    *,
    isolate: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    work_per_step: int = WORK_PER_STEP,
) -> Fault | None:
    """The fault ``engine`` shows on ``program`` under ``profile``, or None.
    ``isolate`` runs it in a child with a time limit (needed for hangs and
    fatal signals); otherwise in this process."""
    lowered = lower(program)
    try:
        if isolate:
            guarded_run(engine, lowered, profile, program.limits, timeout, work_per_step)
        else:
            module = load_engine(engine)
            set_work_limit(module, work_per_step)
            try:
                out = run_side(module, engine, lowered, profile, program.limits)
            finally:
                set_work_limit(module, 0)
            check_trace(engine, lowered, out)
    except EngineFault as exc:
        return exc.fault
    return None
