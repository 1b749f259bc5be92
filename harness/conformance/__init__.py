"""External engines: run programs against real socket implementations.

An *external engine* runs a program step by step against a real
implementation (Wine's ws2_32, the Linux kernel's TCP sockets) and reports,
for each step, what it observed in the model's own vocabulary.  The oracle
(:mod:`harness.conformance.compare`) compares that with the reference model only
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
comparison stops (see :mod:`harness.conformance.model`).
"""

from __future__ import annotations

from harness.conformance.engine import Capabilities, ExternalEngine

EXTERNAL_ENGINES = ("linux", "wine")


def open_engine(name: str) -> ExternalEngine:
    """Start the external engine ``name`` (``linux`` or ``wine``)."""
    from harness.vocab.errors import HarnessError

    if name == "linux":
        from harness.conformance.linux import LinuxEngine

        return LinuxEngine()
    if name == "wine":
        from harness.conformance.wine import WineEngine

        return WineEngine()
    raise HarnessError(f"unknown external engine {name!r} (known: {', '.join(EXTERNAL_ENGINES)})")


def capabilities_of(name: str) -> Capabilities:
    """What the engine ``name`` declares, without starting it (``windows``: what the
    programs exported by ``wsa-harness export c`` run, the Wine engine's steps)."""
    from harness.vocab.errors import HarnessError

    if name == "linux":
        from harness.conformance.linux import LINUX_CAPABILITIES

        return LINUX_CAPABILITIES
    if name in ("wine", "windows"):
        from harness.conformance.wine import WINE_CAPABILITIES

        return WINE_CAPABILITIES
    raise HarnessError(f"unknown external engine {name!r} (known: {', '.join(EXTERNAL_ENGINES)})")
