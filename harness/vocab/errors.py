"""The harness's exception hierarchy.

Every error the harness reports on purpose is a :class:`HarnessError`.  More
subclasses are added by the modules that raise them.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of every error the harness reports on purpose."""


class ProgramError(HarnessError):
    """Bad program text: ``FILE:LINE: message``.  Nothing is run."""

    def __init__(self, filename: str, line: int, message: str) -> None:
        # All three go to Exception.__init__ so the error pickles (multiprocessing).
        super().__init__(filename, line, message)
        self.filename = filename
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{self.filename}:{self.line}: {self.message}"
