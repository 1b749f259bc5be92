#!/usr/bin/env python3
"""Differential fuzz target (libFuzzer via atheris), OSS-Fuzz style.

Invariant: every byte string decodes (harness.lang.encoding) to a program on which
the two sides named by WSA_FUZZ_SIDES (default: the compiled core and the
reference model, both under the `documented` profile) produce identical step
results, events and final snapshots, and after which the reference model's
SEMANTICS.md invariants hold.  A violation raises with the rendered program
and its divergence signature.

    ./fuzz/fuzz_differential.py -runs=10000 corpus_dir
"""

from harness.fuzz.entry import main

if __name__ == "__main__":
    main()
