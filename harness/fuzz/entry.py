"""The atheris entry point of the differential target.

Run it through ``fuzz/fuzz_differential.py`` (or the launcher the campaign
driver writes), so that libFuzzer's ``-fork``/``-jobs`` can re-execute it.
The sides come from ``WSA_FUZZ_SIDES`` (``engine/profile,engine/profile``);
with ``WSA_FUZZ_FINDINGS`` set, distinct divergences are recorded there and
fuzzing goes on; without it the first divergence raises with the report.

With ``WSA_HARNESS_CORE_DIR`` naming an instrumented build of the core
(``harness.fuzz.native``), libFuzzer counts the core's edges too.  Such a build
calls libFuzzer's coverage callbacks, so libFuzzer must be in the process,
with global symbols, before the core is imported: either preloaded (the
sanitizer runtimes hold it) or atheris's bundled copy, loaded here first.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable

#: write the hit counts every this many executions (and at exit)
COUNTS_EVERY = 2048


def load_libfuzzer_globally() -> bool:
    """Import atheris and make libFuzzer's symbols global before the core is
    imported.  True when atheris's bundled libFuzzer was loaded (the caller
    then tells ``atheris.Setup`` to use it); False when a preloaded runtime
    already provides libFuzzer (atheris then uses that one by itself)."""
    import atheris  # noqa: F401

    if hasattr(ctypes.CDLL(None), "LLVMFuzzerRunDriver"):
        return False
    flags = sys.getdlopenflags()
    sys.setdlopenflags(flags | os.RTLD_GLOBAL)
    try:
        import atheris.core_with_libfuzzer  # noqa: F401
    finally:
        sys.setdlopenflags(flags)
    return True


#: the reference model's modules that are bookkeeping, not semantics: their
#: branches (index upkeep, the snapshot, the invariant checks, result records)
#: would only add noise to the coverage that guides the search
NOT_INSTRUMENTED = (
    "harness.reference.snapshot",
    "harness.reference.world",
    "harness.reference.results",
)


def instrument_reference() -> None:
    """Import the reference model with atheris's coverage in the modules that
    make its decisions (calls, close, effects, environment, settle and the
    engine's common checks).  Its branches count only on the inputs the
    reference runs on (a core-led campaign's policy, harness.fuzz.policy)."""
    import atheris

    with atheris.instrument_imports(include=["harness.reference"], exclude=list(NOT_INSTRUMENTED)):
        import harness.reference  # noqa: F401


_AT_EXIT: list[object] = []  # the callbacks, kept alive


def at_c_exit(fn: Callable[[], None]) -> bool:
    """Call ``fn`` when libFuzzer ends the process with C's ``exit()`` (the
    end of a -runs or -max_total_time budget), which runs no Python exit
    handler.  A signal (Ctrl-C) ends it with ``_Exit`` instead: the counts
    written every COUNTS_EVERY executions are what is left then.  False
    where the C library has no ``__cxa_atexit``."""
    try:
        register = ctypes.CDLL(None).__cxa_atexit
    except (OSError, AttributeError):
        return False
    callback = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _: fn())
    _AT_EXIT.append(callback)
    return bool(register(callback, None, None) == 0)


def main(argv: list[str] | None = None) -> None:
    setup_options = {}
    if os.environ.get("WSA_HARNESS_CORE_DIR"):
        # Same module object as atheris.Fuzz() imports, so one libFuzzer only.
        setup_options["internal_libfuzzer"] = load_libfuzzer_globally()
    import atheris

    instrument_reference()
    from harness.fuzz.real import make_target

    target = make_target()
    args = list(sys.argv if argv is None else argv)
    at_c_exit(target.write_counts)
    executions = 0

    def one(data: bytes) -> None:
        nonlocal executions
        try:
            target(data)
        finally:
            # the hits per signature, for the campaign's summary.  Counted in
            # executions, not seconds: the child allocates the same way on
            # every run with the same -seed (its coverage depends on it).
            executions += 1
            if executions % COUNTS_EVERY == 0:
                target.write_counts()

    atheris.Setup(args, one, **setup_options)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
