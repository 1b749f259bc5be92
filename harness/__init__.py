"""wsa-harness: a fuzzing and conformance harness for Winsock closesocket semantics.

It holds an executable reference model of the descriptor table and close path
(``harness.reference``), the same semantics compiled with Cython
(``harness._core``), and a differential oracle, fuzzer and benchmarks over both.

``WSA_HARNESS_CORE_DIR`` names a folder searched for ``harness._core`` before
this package's own folder: the native-coverage and sanitizer builds
(``harness.native``) live there, apart from the normal in-place core.
"""

import os as _os

__version__ = "0.1.0"

if _core_dir := _os.environ.get("WSA_HARNESS_CORE_DIR"):
    __path__.insert(0, _core_dir)
