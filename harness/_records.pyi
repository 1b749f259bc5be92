"""Type stub for harness/_records.pyx: the core-led policy's record set in C."""

from collections.abc import Sequence

class RecordSet:
    capacity: int
    def __init__(self, capacity: int = ...) -> None: ...
    def add(self, values: Sequence[int]) -> int:
        """Add the trace's records: 1 if one is new, 0 if none, -1 if malformed."""
    def clear(self) -> None: ...
    def __len__(self) -> int: ...
