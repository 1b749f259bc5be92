"""Type stub for the compiled core (harness/_core.pyx); see docs/engines.md."""

from array import array

from harness.vocab.profiles import Limits, Profile

_Bytes = bytes | bytearray | memoryview

class Engine:
    def __init__(self, profile: Profile, limits: Limits) -> None: ...
    def step(self, op: int, thread: int, target: int, x1: int, x2: int, x3: int) -> tuple[int, ...]:
        """One step; returns (bound, rkind, r1, r2, r3, nevents, *events)."""
    def snapshot(self) -> tuple[int, ...]:
        """The canonical snapshot (harness/vocab/trace.py layout)."""
    def check_invariants(self) -> list[str]:
        """SEMANTICS.md section 11 invariants; [] when all hold."""
    @property
    def work(self) -> int:
        """Settling passes so far (the cost check counts them)."""
    def _set_full_settle(self, on: bool) -> None:
        """Testing aid: naive settling (every socket, one pass at a time)."""

def set_work_limit(per_step: int) -> None:
    """Raise WorkLimitExceeded past per_step settling passes a step (0: no limit)."""

def _vocabulary() -> dict[str, int]:
    """Name -> value of every enum constant of the core (tests/core/test_core_vocab.py)."""

def run_lowered(
    lowered: array[int] | bytes | bytearray | memoryview,
    profile: Profile,
    limits: Limits,
    *,
    _full_settle: bool = False,
) -> array[int]:
    """Run a lowered program (harness.lang.program.lower); returns the canonical trace."""

def decode_bytes(
    data: _Bytes, max_steps: int | None = None
) -> tuple[array[int], tuple[int, int, int, int]]:
    """The fuzzer's bytes -> (lowered program, (sockets, descriptors, sndbuf, window)):
    exactly harness.lang.encoding.decode_lowered, decoded in C (docs/engines.md)."""

def run_bytes(
    data: _Bytes,
    profile: Profile | tuple[Profile, ...] | list[Profile],
    max_steps: int | None = None,
) -> array[int]:
    """Decode the fuzzer's bytes and run them in one C call; returns the canonical
    trace.  Four profiles (a tuple or list) are indexed by the header's bits 6-7."""
