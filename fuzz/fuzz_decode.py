#!/usr/bin/env python3
"""Decoder fuzz target (libFuzzer via atheris), OSS-Fuzz style.

Invariant: for every byte string, the compiled core's own decoder
(harness._core.decode_bytes, harness/_core_decode.pxi) gives exactly the lowered
program and limits that harness.lang.encoding.decode_lowered gives, both with no
step bound and with the campaigns' (WSA_FUZZ_MAX_STEPS, default 20); and
run_bytes gives exactly run_lowered of that program, under the profile the
header names.  A difference raises with the input and both answers.

    ./fuzz/fuzz_decode.py -runs=10000 -max_len=400 corpus_dir
"""

import os
import sys

import atheris

# The Python decoder is instrumented: its branches guide the search.
with atheris.instrument_imports(include=["harness.lang.encoding"]):
    from harness.lang.encoding import HEADER_PROFILES, decode_lowered, header_profile

from harness.engines import load_engine
from harness.vocab.profiles import PROFILES, Limits

CORE = load_engine("core")
MAX_STEPS = int(os.environ.get("WSA_FUZZ_MAX_STEPS", "20"))
#: run_bytes picks from these by the header's bits 6-7
HEADER_PROFILE_SET = tuple(PROFILES[name] for name in HEADER_PROFILES)


def test_one_input(data: bytes) -> None:
    for max_steps in (None, MAX_STEPS):
        code, limits = decode_lowered(data, max_steps)
        core_code, core_limits = CORE.decode_bytes(data, max_steps)
        if core_code != code or Limits(*core_limits) != limits:
            raise AssertionError(
                f"decoders differ on {data!r} (max_steps {max_steps}):\n"
                f"python {limits} {list(code)}\ncore   {core_limits} {list(core_code)}"
            )
        expected = CORE.run_lowered(code, header_profile(data), limits)
        if CORE.run_bytes(data, HEADER_PROFILE_SET, max_steps) != expected:
            raise AssertionError(f"run_bytes differs from run_lowered on {data!r} ({max_steps})")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
