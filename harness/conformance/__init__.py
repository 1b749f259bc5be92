"""External engines: run programs against real socket implementations.

An *external engine* runs a program step by step against a real
implementation (Wine's ws2_32, the Linux kernel's TCP sockets) and reports,
for each step, what it observed in the model's own vocabulary.  The oracle
(:mod:`harness.conformance.compare`) compares that with the reference model only
on what the engine declares:

(a) **steps** -- :class:`Capabilities` lists the ops it can run, the threads
    it has, the descriptor forms and the largest count it moves
    (``Capabilities.why_not``).  The comparison of a program ends at its first
    other step, with the verdict ``partial`` ("compared up to line N: why"),
    or ``skipped`` when nothing before it could be compared.
(b) **observables** -- which parts of a run it can compare
    (:mod:`harness.conformance.engine`); posted messages and completions are
    drained after every step and compared at every step.  Byte counts are
    compared by class (``0``, all ``N``, or ``partial``), never exactly;
    descriptor values, the model's other events and its snapshot are never
    compared.
(c) **time** -- ``advance MS`` sleeps in real time only while a closesocket is
    blocked, and only up to ``max_sleep_ms``; a longer one skips the rest of
    the program.  Otherwise time has no real counterpart and ``advance`` only
    lets in-flight completions arrive.

Buffering: a real stack buffers megabytes where the model's ``sndbuf`` and
``window`` hold bytes.  A connection counts as full in the real stack only
after a single send of at least ``saturation`` bytes; wherever the model's
buffers are full and the real ones are not (or the other way round), the
comparison stops at the first step whose outcome can tell (see
:mod:`harness.conformance.model`).
"""

from __future__ import annotations

from collections.abc import Callable

from harness.conformance.engine import Capabilities, ExternalEngine

#: name -> (a function that starts the engine, its measured profile or None)
_REGISTRY: dict[str, tuple[Callable[[], ExternalEngine], str | None]] = {}


def register_engine(
    name: str, factory: Callable[[], ExternalEngine], profile: str | None = None
) -> None:
    """Make ``open_engine(name)`` start an engine (issue 16: a third engine slots in here).

    ``profile`` is the measured profile of docs/profiles.md the engine is
    checked against (``conformance --check``), or None."""
    _REGISTRY[name] = (factory, profile)


def _linux() -> ExternalEngine:
    from harness.conformance.linux import LinuxEngine

    return LinuxEngine()


def _wine() -> ExternalEngine:
    from harness.conformance.wine import WineEngine

    return WineEngine()


def _lwip() -> ExternalEngine:
    from harness.conformance.lwip import LwipEngine

    return LwipEngine()


register_engine("linux", _linux, "linux")
register_engine("wine", _wine, "wine")
register_engine("lwip", _lwip, "lwip")

#: The engines ``open_engine`` knows (more may be registered).
EXTERNAL_ENGINES = ("linux", "wine", "lwip")


def engine_names() -> tuple[str, ...]:
    """Every registered engine, in registration order."""
    return tuple(_REGISTRY)


def engine_profile(name: str) -> str | None:
    """The measured profile of engine ``name`` (None: it has none)."""
    return _REGISTRY[name][1] if name in _REGISTRY else None


def open_engine(name: str) -> ExternalEngine:
    """Start the external engine ``name`` (``linux``, ``wine``, or a registered one)."""
    from harness.vocab.errors import HarnessError

    if name not in _REGISTRY:
        known = ", ".join(_REGISTRY)
        raise HarnessError(f"unknown external engine {name!r} (known: {known})")
    return _REGISTRY[name][0]()


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
    if name == "lwip":
        from harness.conformance.lwip import LWIP_CAPABILITIES

        return LWIP_CAPABILITIES
    raise HarnessError(f"unknown external engine {name!r} (known: {', '.join(EXTERNAL_ENGINES)})")
