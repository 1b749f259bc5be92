"""wsa-harness: a fuzzing and conformance harness for Winsock closesocket semantics.

It holds an executable reference model of the descriptor table and close path
(``harness.reference``), the same semantics compiled with Cython
(``harness._core``), and a differential oracle, fuzzer and benchmarks over both.

``WSA_HARNESS_CORE_DIR`` names a folder searched for ``harness._core`` before
this package's own folder: the native-coverage and sanitizer builds
(``harness.fuzz.native``) live there, apart from the normal in-place core.

The public API, imported here from the modules that do the work::

    import harness

    program = harness.parse("t0: startup 2.2\\nt0: s1 = socket stream\\n")
    trace = harness.run(program, engine="reference", profile="windows")
    harness.diff(program, a=("reference", "documented"), b=("reference", "windows"))
    harness.minimize(program, a=("reference", None), b=("core", None))

    stack = harness.Stack(profile="windows", engine="reference")
    stack.startup(2, 2)
    s = stack.socket("stream")

``parse``, ``run``, ``diff`` and ``minimize`` are in :mod:`harness.api`,
``Stack`` in :mod:`harness.library.stack`; Hypothesis strategies are in
:mod:`harness.library.strategies` and the pytest plugin in :mod:`harness.library.pytest_plugin`.
"""

import os as _os

__version__ = "0.1.0"

if _core_dir := _os.environ.get("WSA_HARNESS_CORE_DIR"):
    __path__.insert(0, _core_dir)

from harness.api import diff, minimize, parse, run  # noqa: E402
from harness.lang.program import Program, Step  # noqa: E402
from harness.lang.render import format_program, with_expectations  # noqa: E402
from harness.library.stack import Stack, StepResult  # noqa: E402
from harness.oracle.diff import Divergence, Side  # noqa: E402
from harness.oracle.run import Mismatch, check  # noqa: E402
from harness.vocab.errors import HarnessError, ProgramError  # noqa: E402
from harness.vocab.profiles import DOCUMENTED, PROFILES, WINDOWS, Limits, Profile  # noqa: E402
from harness.vocab.trace import Trace  # noqa: E402

__all__ = [
    "DOCUMENTED",
    "PROFILES",
    "WINDOWS",
    "Divergence",
    "HarnessError",
    "Limits",
    "Mismatch",
    "Profile",
    "Program",
    "ProgramError",
    "Side",
    "Stack",
    "Step",
    "StepResult",
    "Trace",
    "__version__",
    "check",
    "diff",
    "format_program",
    "minimize",
    "parse",
    "run",
    "with_expectations",
]
