"""Choosing an engine: the reference model or the compiled core.

``WSA_HARNESS_NO_CORE=1`` selects pure-Python mode explicitly: the core is
then never imported and asking for it is an error.  Otherwise a missing core
is an error with instructions, never a silent fallback.

``WSA_HARNESS_CORE_PATH=/path/to/_core.*.so`` makes :func:`load_engine` load
the core from that file (as ``harness._core``) instead of the package's own.
Only the bug-finding benchmark (``wsa-harness bench``) sets it, to run a
campaign against a mutant core built outside the working tree.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module, util
from types import ModuleType

from harness.errors import HarnessError

ENGINES = ("reference", "core")
NO_CORE_ENV = "WSA_HARNESS_NO_CORE"
CORE_PATH_ENV = "WSA_HARNESS_CORE_PATH"


class EngineError(HarnessError):
    """An engine was asked for that cannot be had."""


def no_core() -> bool:
    return os.environ.get(NO_CORE_ENV, "") not in ("", "0")


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
    if path := os.environ.get(CORE_PATH_ENV):
        return _load_core_file(path)
    try:
        return import_module("harness._core")
    except ImportError as exc:
        raise EngineError(
            "the compiled core harness._core is not built: run `make` (or "
            f"`pip install .`), or set {NO_CORE_ENV}=1 for pure-Python mode ({exc})"
        ) from None


def _load_core_file(path: str) -> ModuleType:
    """The core compiled at ``path``, imported once as ``harness._core``."""
    loaded = sys.modules.get("harness._core")
    if loaded is not None:
        if os.path.realpath(getattr(loaded, "__file__", "") or "") != os.path.realpath(path):
            raise EngineError(f"{CORE_PATH_ENV}={path}: another harness._core is already loaded")
        return loaded
    spec = util.spec_from_file_location("harness._core", path)
    if spec is None or spec.loader is None or not os.path.isfile(path):
        raise EngineError(f"{CORE_PATH_ENV}={path}: not a compiled core module")
    module = util.module_from_spec(spec)
    sys.modules["harness._core"] = module
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        del sys.modules["harness._core"]
        raise EngineError(f"{CORE_PATH_ENV}={path}: cannot load it ({exc})") from None
    return module
