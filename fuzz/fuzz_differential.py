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

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from harness.fuzz.entry import main  # noqa: E402

if __name__ == "__main__":
    main()
