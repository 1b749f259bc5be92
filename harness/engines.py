"""Choosing an engine: the reference model or the compiled core.

``WSA_HARNESS_NO_CORE=1`` selects pure-Python mode explicitly: the core is
then never imported and asking for it is an error.  Otherwise a missing core
is an error with instructions, never a silent fallback.

``WSA_HARNESS_CORE_DIR=/folder`` makes ``harness._core`` come from that folder
(``harness/__init__`` searches it first): the instrumented builds of
``harness.fuzz.native`` and the bug-finding benchmark's mutants live there, apart
from the in-place core.  :func:`load_engine` checks that the core it got is
really that folder's, so a wrong folder is an error, never a quiet fallback to
the in-place core.
"""

from __future__ import annotations

import os
from importlib import import_module
from types import ModuleType
from typing import Protocol

from harness.vocab.errors import HarnessError

ENGINES = ("reference", "core")
NO_CORE_ENV = "WSA_HARNESS_NO_CORE"
CORE_DIR_ENV = "WSA_HARNESS_CORE_DIR"


class EngineObject(Protocol):
    """One world of an engine, driven a step at a time (docs/engines.md)."""

    def step(
        self, op: int, thread: int, target: int, x1: int, x2: int, x3: int
    ) -> tuple[int, ...]: ...
    def snapshot(self) -> tuple[int, ...]: ...
    def check_invariants(self) -> list[str]: ...


class EngineError(HarnessError):
    """An engine was asked for that cannot be had."""


def no_core() -> bool:
    """True when ``WSA_HARNESS_NO_CORE`` asks for pure-Python mode: the one place
    that reads it (the tests, the benchmarks and the plugin call this)."""
    return os.environ.get(NO_CORE_ENV, "").strip() not in ("", "0")


def default_engine() -> str:
    """``core`` unless pure-Python mode is selected."""
    return "reference" if no_core() else "core"


def load_engine(name: str) -> ModuleType:
    """Import the engine module ``name`` (``reference`` or ``core``)."""
    if name == "reference":
        return import_module("harness.reference")
    if name != "core":
        raise EngineError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
    if no_core():
        raise EngineError(f"the compiled core is disabled by {NO_CORE_ENV}=1")
    try:
        module = import_module("harness._core")
    except ImportError as exc:
        raise EngineError(
            "the compiled core harness._core is not built: run `make` (or "
            f"`pip install .`), or set {NO_CORE_ENV}=1 for pure-Python mode ({exc})"
        ) from None
    folder = os.environ.get(CORE_DIR_ENV)
    if folder and os.path.dirname(os.path.realpath(module.__file__ or "")) != os.path.realpath(
        folder
    ):
        raise EngineError(f"{CORE_DIR_ENV}={folder}: no compiled core there ({module.__file__})")
    return module
