"""The harness's exception hierarchy.

Every error the harness reports on purpose is a :class:`HarnessError`.  More
subclasses are added by the modules that raise them.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of every error the harness reports on purpose."""


class FileLineError(HarnessError):
    """An error at a line of a file: ``FILE:LINE: message`` (``FILE: message``
    when it is about no line, LINE 0)."""

    def __init__(self, filename: str, line: int, message: str) -> None:
        # All three go to Exception.__init__ so the error pickles (multiprocessing).
        super().__init__(filename, line, message)
        self.filename = filename
        self.line = line
        self.message = message

    def __str__(self) -> str:
        where = f"{self.filename}:{self.line}" if self.line else self.filename
        return f"{where}: {self.message}"


class ProgramError(FileLineError):
    """Bad program text: ``FILE:LINE: message``.  Nothing is run."""


class WorkLimitExceeded(RuntimeError):
    """An engine did more settling work than the work limit allows.

    Both engines raise it when a limit was set (``set_work_limit``) and a run
    exceeds ``limit * steps``: the sign of a lost fast path (a loop that moves
    a buffer's worth of bytes per pass instead of all of them at once).  It is
    a shared word, not logic: each engine counts its own settling passes.
    """
