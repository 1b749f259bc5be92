"""wsa-harness: a fuzzing and conformance harness for Winsock closesocket semantics.

It holds an executable reference model of the descriptor table and close path
(``harness.reference``), the same semantics compiled with Cython
(``harness._core``), and a differential oracle, fuzzer and benchmarks over both.
"""

__version__ = "0.1.0"
